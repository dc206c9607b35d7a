// The synthetic line as a FrameSource: free-run at fps or one part per software trigger, with ground truth.
import { BaseSource } from './base.ts';
import type { SyntheticCameraConfig } from './config.ts';
import { Pacer } from './pacer.ts';
import { SyntheticLine } from './synthetic-line.ts';

export class SyntheticSource extends BaseSource {
  private readonly line: SyntheticLine;
  private readonly pacer: Pacer;
  private index = 0;
  private running = false;

  constructor(private readonly config: SyntheticCameraConfig) {
    super(config.id);
    this.line = new SyntheticLine(config);
    this.pacer = new Pacer(config.fps, () => this.produce());
  }

  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    this.setState('starting');
    if (this.config.trigger === 'free') this.pacer.start();
    else this.setState('online'); // a triggered camera is ready before its first frame
  }

  async stop(): Promise<void> {
    this.running = false;
    this.pacer.stop();
    this.setState('stopped');
  }

  async trigger(triggerId: number): Promise<void> {
    if (!this.running) throw new Error(`camera ${this.id}: not started; start the source before triggering`);
    await this.produce(triggerId);
  }

  private async produce(triggerId?: number): Promise<void> {
    const { width, height } = this.config;
    const part = this.line.render(this.index++);
    if (!this.running) return;
    const groundTruth = part.kind === undefined ? { defect: false, mask: part.mask } : { defect: true, kind: part.kind, mask: part.mask };
    this.deliver({ width, height, rgb: part.rgb, groundTruth, ...(triggerId === undefined ? {} : { triggerId }) });
  }
}

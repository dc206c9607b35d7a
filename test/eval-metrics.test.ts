import test from 'ava';
import { execFileSync } from 'node:child_process';
import { seededRandom as rng } from '../models/eval/dataset.ts';
import { aupr, aupro, auroc, binaryCurve, f1Max, overkillAtEscape, sortFloat32, type PixelSample } from '../models/eval/metrics.ts';

/** Reference values from test/helpers/eval_reference.py (numpy/scipy/sklearn, written from the definitions). */
function reference(input: unknown): Record<string, number | null> {
  const out = execFileSync('/usr/bin/python3', ['test/helpers/eval_reference.py'], { input: JSON.stringify(input), encoding: 'utf8', maxBuffer: 64 << 20 });
  return JSON.parse(out) as Record<string, number | null>;
}

function sklearn(script: string, input: unknown): Record<string, number> {
  const out = execFileSync('/usr/bin/python3', ['-c', script], { input: JSON.stringify(input), encoding: 'utf8' });
  return JSON.parse(out) as Record<string, number>;
}

const near = (a: number, b: number | null | undefined, eps: number) => b !== null && b !== undefined && Math.abs(a - b) < eps;
const wire = (samples: PixelSample[]) => samples.map((s) => ({ map: [...s.map], mask: [...s.mask], w: s.width, h: s.height }));

test('hand case: AUROC, official AP (PR trapezoids), F1max and overkill', (t) => {
  // Scores of 3 good (0) and 3 bad (1) parts; one bad part scores below one good part.
  const labels = [0, 0, 0, 1, 1, 1];
  const scores = [0.1, 0.2, 0.6, 0.5, 0.8, 0.9];
  t.true(Math.abs(auroc(labels, scores) - 8 / 9) < 1e-12); // 8 of 9 (bad, good) pairs ordered right
  // PR points (recall, precision): (0, 1) added, (1/3, 1), (2/3, 1), (2/3, 2/3), (1, 3/4), (1, 3/5), (1, 1/2).
  // Stable sort by recall keeps ascending score within a recall level, so the trapezoids run
  // (0,1)→(1/3,1), (1/3,1)→(2/3,2/3), (2/3,1)→(1,1/2): 1/3 + 5/18 + 1/4 = 31/36 (sklearn's AP would say 11/12).
  t.true(Math.abs(aupr(labels, scores) - 31 / 36) < 1e-12, `${aupr(labels, scores)}`);
  const f1 = f1Max(labels, scores); // TP 3, FP 1: P 3/4, R 1, F1 = 2PR/(P+R+1e-10)
  t.true(Math.abs(f1.f1 - (2 * 0.75) / (1.75 + 1e-10)) < 1e-15);
  t.is(f1.threshold, 0.5);
  t.deepEqual(overkillAtEscape(labels, scores, 0.02), { overkill: 1 / 3, threshold: 0.5 });
  t.deepEqual(overkillAtEscape(labels, scores, 0.34), { overkill: 0, threshold: 0.8 });
  t.is(auroc([0, 1, 0, 1], [0.5, 0.5, 0.5, 0.5]), 0.5, 'all tied');
  t.is(aupr([0, 1, 0, 1], [0.5, 0.5, 0.5, 0.5]), 0.75, 'all tied: (0,1)→(1,1/2)');
  t.throws(() => auroc([1, 1], [0.1, 0.2]), { message: /needs both normal and anomalous samples \(got 0 normal, 2 anomalous\)/ });
});

test('image metrics equal scikit-learn / the numpy reference on random scores with ties', (t) => {
  const r = rng(7);
  const labels = Array.from({ length: 400 }, () => (r() < 0.3 ? 1 : 0));
  // Rounded scores make many ties; anomalous parts score a bit higher. Float32 like the model's scores.
  const scores = Float32Array.from(labels, (l) => Math.round((r() + 0.35 * l) * 50) / 50);
  const ref = reference({ labels, scores: [...scores] });
  t.true(near(auroc(labels, scores), ref.auroc, 1e-12), `auroc ${auroc(labels, scores)} vs ${ref.auroc}`);
  t.true(near(aupr(labels, scores), ref.ap, 1e-12), `ap ${aupr(labels, scores)} vs ${ref.ap}`);
  t.true(near(f1Max(labels, scores).f1, ref.f1, 1e-12), `f1 ${f1Max(labels, scores).f1} vs ${ref.f1}`);
  // The same scores as plain numbers give the same curve (float32 and float64 paths agree).
  t.deepEqual(binaryCurve(labels, [...scores]), binaryCurve(labels, scores));
  const ok = sklearn(
    `import sys, json, numpy as np
from sklearn.metrics import roc_curve
d = json.load(sys.stdin); y = np.array(d['labels']); s = np.array(d['scores'])
fpr, tpr, _ = roc_curve(y, s, drop_intermediate=False)
ok = lambda e: float(fpr[np.argmax(tpr >= 1 - e - 1e-12)])
print(json.dumps({'ok2': ok(0.02), 'ok5': ok(0.05)}))`,
    { labels, scores: [...scores] },
  );
  t.is(overkillAtEscape(labels, scores, 0.02).overkill, ok.ok2!);
  t.is(overkillAtEscape(labels, scores, 0.05).overkill, ok.ok5!);
});

function blobSamples(seed: number, count: number, width: number, height: number, quantum: number): PixelSample[] {
  const r = rng(seed);
  const samples: PixelSample[] = [];
  for (let k = 0; k < count; k++) {
    const mask = new Uint8Array(width * height);
    // Blobs of different sizes, one image without any; a diagonal pair that only 8-connectivity joins.
    if (k > 0) for (let y = 1; y < 4; y++) for (let x = 1; x < 3 + k; x++) mask[y * width + x] = 255;
    if (k > 1) for (let y = 6; y < 8 + (k % 3); y++) for (let x = 8; x < 10; x++) mask[y * width + x] = 255;
    if (k === 2) mask[(height - 2) * width + width - 3] = mask[(height - 1) * width + width - 2] = 255;
    const raw = () => r() * 0.7 + 0;
    const map = Float32Array.from(mask, (m) => {
      const v = raw() + (m ? 0.3 : 0);
      return quantum ? Math.round(v * quantum) / quantum : v;
    });
    samples.push({ map, mask, width, height });
  }
  return samples;
}

test('pixel AUROC/AP and the official AUPRO equal the numpy reference; AUPRO stays near the exact MVTec AUPRO', (t) => {
  for (const [seed, quantum, w, h] of [[11, 40, 12, 10], [3, 0, 16, 12], [5, 0, 40, 30]] as const) {
    const samples = blobSamples(seed, 5, w, h, quantum);
    const labels = samples.flatMap((s) => [...s.mask].map((m) => (m ? 1 : 0)));
    const scores = Float32Array.from(samples.flatMap((s) => [...s.map]));
    const ref = reference({ labels, scores: [...scores], samples: wire(samples), exact: true });
    t.true(near(auroc(labels, scores), ref.auroc, 1e-12), `auroc seed ${seed}`);
    t.true(near(aupr(labels, scores), ref.ap, 1e-12), `ap seed ${seed}`);
    const ours = aupro(samples);
    t.true(near(ours, ref.aupro, 1e-9), `aupro seed ${seed}: ${ours} vs ${ref.aupro}`);
    // The official resampling by point index is an approximation of MVTec AD's integral; on these maps it is close.
    t.true(near(ours, ref.exact, 0.01), `aupro seed ${seed}: ${ours} vs exact ${ref.exact}`);
  }
});

test('official AUPRO edge cases: plateaus, a perfect map (0.5, as anomalib gives), an inverted or constant one (NaN)', (t) => {
  const r = rng(5);
  const w = 10, h = 10;
  const samples: PixelSample[] = [];
  for (let k = 0; k < 3; k++) {
    // 40 % of the normal pixels share the top normal score: the first background step jumps past FPR 0.3.
    const mask = new Uint8Array(w * h);
    for (let y = 2; y < 5; y++) for (let x = 2 + k; x < 5 + k; x++) mask[y * w + x] = 1;
    const map = Float32Array.from(mask, (m) => (m ? (r() < 0.5 ? 0.95 + 0.01 * Math.floor(r() * 3) : r() * 0.5) : r() < 0.4 ? 0.9 : r() * 0.8));
    samples.push({ map, mask, width: w, height: h });
  }
  const ref = reference({ samples: wire(samples) });
  t.true(near(aupro(samples), ref.aupro, 1e-9), `plateau ${aupro(samples)} vs ${ref.aupro}`);
  const mask = new Uint8Array([0, 0, 255, 255, 0, 0, 0, 0, 0]);
  const perfect = [{ map: Float32Array.from(mask, (m) => (m ? 1 : 0)), mask, width: 3, height: 3 }];
  t.is(aupro(perfect), 0.5);
  t.is(reference({ samples: wire(perfect) }).aupro, 0.5);
  t.true(Number.isNaN(aupro([{ map: Float32Array.from(mask, (m) => (m ? 0 : 1)), mask, width: 3, height: 3 }])));
  t.true(Number.isNaN(aupro([{ map: new Float32Array(9).fill(0.5), mask, width: 3, height: 3 }])));
  t.throws(() => aupro([{ map: new Float32Array(9), mask: new Uint8Array(9), width: 3, height: 3 }]), { message: /AUPRO needs anomalous regions/ });
});

test('sortFloat32 (radix) orders like a comparison sort, negatives, zeros and ties included', (t) => {
  const r = rng(3);
  const values = Float32Array.from({ length: 50_000 }, (_, i) => (i % 7 === 0 ? 0 : i % 11 === 0 ? -0 : (r() - 0.3) * (i % 3 ? 1 : 1e-30) * 1e3));
  const expected = [...values].sort((a, b) => a - b);
  const sorted = sortFloat32(values.slice());
  t.true(sorted.every((v, i) => v === expected[i]));
  t.true(sorted.every((v, i) => i === 0 || v >= sorted[i - 1]!));
});

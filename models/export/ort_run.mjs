// Runs one ONNX graph with onnxruntime-node (CPU) for the exporter's check against torch.
// Usage: node ort_run.mjs JOB.json — JOB: {model, inputs:[{name,file,dtype,shape}], outDir}; writes outDir/<output>.f32
// and outDir/shapes.json. Plain JS so the exporter needs nothing but node and the repo's node_modules.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import ort from 'onnxruntime-node';

const job = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const session = await ort.InferenceSession.create(job.model, { executionProviders: ['cpu'], graphOptimizationLevel: 'all' });
const feeds = {};
for (const input of job.inputs) {
  const bytes = readFileSync(input.file);
  const data = input.dtype === 'uint8'
    ? new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    : new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  feeds[input.name] = new ort.Tensor(input.dtype, data, input.shape);
}
const results = await session.run(feeds);
const shapes = {};
for (const [name, tensor] of Object.entries(results)) {
  const data = tensor.data;
  writeFileSync(join(job.outDir, `${name}.f32`), Buffer.from(data.buffer, data.byteOffset, data.byteLength));
  shapes[name] = tensor.dims;
}
writeFileSync(join(job.outDir, 'shapes.json'), JSON.stringify(shapes));

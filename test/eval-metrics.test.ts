import test from 'ava';
import { execFileSync } from 'node:child_process';
import { seededRandom as rng } from '../models/eval/dataset.ts';
import { aupro, auroc, averagePrecision, f1Max, overkillAtEscape, type PixelSample } from '../models/eval/metrics.ts';

function sklearn(script: string, input: unknown): Record<string, number> {
  const out = execFileSync('/usr/bin/python3', ['-c', script], { input: JSON.stringify(input), encoding: 'utf8' });
  return JSON.parse(out) as Record<string, number>;
}

test('hand case: AUROC, AP, F1max and overkill', (t) => {
  // Scores of 3 good (0) and 3 bad (1) parts; one bad part scores below one good part.
  const labels = [0, 0, 0, 1, 1, 1];
  const scores = [0.1, 0.2, 0.6, 0.5, 0.8, 0.9];
  t.true(Math.abs(auroc(labels, scores) - 8 / 9) < 1e-12); // 8 of 9 (bad, good) pairs ordered right
  // AP: recall steps 1/3 at P=1, 2/3 at P=1, then 3/3 at P=3/4.
  t.true(Math.abs(averagePrecision(labels, scores) - (1 / 3 + 1 / 3 + 0.75 / 3)) < 1e-12);
  t.deepEqual(f1Max(labels, scores), { f1: 6 / 7, threshold: 0.5 }); // TP 3, FP 1: 2·3/(3+3+1)
  t.deepEqual(overkillAtEscape(labels, scores, 0.02), { overkill: 1 / 3, threshold: 0.5 });
  t.deepEqual(overkillAtEscape(labels, scores, 0.34), { overkill: 0, threshold: 0.8 });
  t.is(auroc([0, 1, 0, 1], [0.5, 0.5, 0.5, 0.5]), 0.5, 'all tied');
  t.throws(() => auroc([1, 1], [0.1, 0.2]), { message: /needs both normal and anomalous samples \(got 0 normal, 2 anomalous\)/ });
});

test('image metrics equal scikit-learn on random scores with ties', (t) => {
  const r = rng(7);
  const labels = Array.from({ length: 400 }, () => (r() < 0.3 ? 1 : 0));
  // Rounded scores make many ties; anomalous parts score a bit higher.
  const scores = labels.map((l) => Math.round((r() + 0.35 * l) * 50) / 50);
  const ref = sklearn(
    `import sys, json, numpy as np
from sklearn.metrics import roc_auc_score, average_precision_score, precision_recall_curve, roc_curve
d = json.load(sys.stdin); y = np.array(d['labels']); s = np.array(d['scores'])
p, r, _ = precision_recall_curve(y, s); f1 = np.max(np.where(p + r > 0, 2 * p * r / np.maximum(p + r, 1e-300), 0))
fpr, tpr, _ = roc_curve(y, s, drop_intermediate=False)
ok = lambda e: float(fpr[np.argmax(tpr >= 1 - e - 1e-12)])
print(json.dumps({'auroc': roc_auc_score(y, s), 'ap': average_precision_score(y, s), 'f1': float(f1), 'ok2': ok(0.02), 'ok5': ok(0.05)}))`,
    { labels, scores },
  );
  t.true(Math.abs(auroc(labels, scores) - ref.auroc!) < 1e-12, `auroc ${auroc(labels, scores)} vs ${ref.auroc}`);
  t.true(Math.abs(averagePrecision(labels, scores) - ref.ap!) < 1e-12, `ap ${averagePrecision(labels, scores)} vs ${ref.ap}`);
  t.true(Math.abs(f1Max(labels, scores).f1 - ref.f1!) < 1e-12);
  t.is(overkillAtEscape(labels, scores, 0.02).overkill, ref.ok2!);
  t.is(overkillAtEscape(labels, scores, 0.05).overkill, ref.ok5!);
});

test('pixel AUROC/AP equal scikit-learn and AUPRO equals a brute-force threshold sweep (scipy regions)', (t) => {
  const r = rng(11);
  const samples: PixelSample[] = [];
  for (let k = 0; k < 4; k++) {
    const width = 12, height = 10;
    const mask = new Uint8Array(width * height);
    // Two blobs of different size in some images, none in one.
    if (k > 0) for (let y = 1; y < 4; y++) for (let x = 1; x < 3 + k; x++) mask[y * width + x] = 255;
    if (k > 1) for (let y = 6; y < 8; y++) for (let x = 8; x < 10; x++) mask[y * width + x] = 255;
    const map = Float32Array.from(mask, (m) => Math.round((r() * 0.7 + (m ? 0.35 : 0)) * 40) / 40);
    samples.push({ map, mask, width, height });
  }
  const labels = samples.flatMap((s) => [...s.mask].map((m) => (m ? 1 : 0)));
  const scores = samples.flatMap((s) => [...s.map]);
  const ref = sklearn(
    `import sys, json, numpy as np
from scipy import ndimage
from sklearn.metrics import roc_auc_score, average_precision_score
d = json.load(sys.stdin)
maps = [np.array(s['map'], dtype=np.float64).reshape(s['h'], s['w']) for s in d['samples']]
gts = [np.array(s['mask']).reshape(s['h'], s['w']) > 0 for s in d['samples']]
y = np.concatenate([g.ravel() for g in gts]); s = np.concatenate([m.ravel() for m in maps])
# Brute force: at each distinct threshold, mean overlap over all regions and the false-positive rate.
regions = []
for m, g in zip(maps, gts):
    lab, n = ndimage.label(g, structure=np.ones((3, 3)))
    regions += [(m, lab == i) for i in range(1, n + 1)]
normal = np.concatenate([m[~g] for m, g in zip(maps, gts)])
fprs, pros = [0.0], [0.0]
for t in np.unique(s)[::-1]:
    fprs.append(float(np.mean(normal >= t)))
    pros.append(float(np.mean([np.mean(m[r] >= t) for m, r in regions])))
fprs, pros = np.array(fprs), np.array(pros)
keep = fprs <= 0.3
x, yy = list(fprs[keep]), list(pros[keep])
if not keep.all():
    k = np.argmax(~keep); x.append(0.3); yy.append(pros[k-1] + (pros[k] - pros[k-1]) * (0.3 - fprs[k-1]) / (fprs[k] - fprs[k-1]))
area = sum((x[i] - x[i-1]) * (yy[i] + yy[i-1]) / 2 for i in range(1, len(x)))
print(json.dumps({'auroc': roc_auc_score(y, s), 'ap': average_precision_score(y, s), 'aupro': area / 0.3}))`,
    { samples: samples.map((s) => ({ map: [...s.map], mask: [...s.mask], w: s.width, h: s.height })) },
  );
  t.true(Math.abs(auroc(labels, scores) - ref.auroc!) < 1e-9);
  t.true(Math.abs(averagePrecision(labels, scores) - ref.ap!) < 1e-9);
  const ours = aupro(samples);
  t.true(Math.abs(ours - ref.aupro!) < 1e-9, `aupro ${ours} vs ${ref.aupro}`);
  t.true(ours > 0 && ours < 1);
});

test('AUPRO hand case: a perfect map scores 1, an inverted one 0', (t) => {
  const mask = new Uint8Array([0, 0, 255, 255, 0, 0, 0, 0, 0]);
  const perfect = Float32Array.from(mask, (m) => (m ? 1 : 0));
  t.is(aupro([{ map: perfect, mask, width: 3, height: 3 }]), 1);
  const inverted = Float32Array.from(mask, (m) => (m ? 0 : 1));
  t.is(aupro([{ map: inverted, mask, width: 3, height: 3 }]), 0);
});

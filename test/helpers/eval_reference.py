"""Reference values for the eval tests, written from the official AdaptCLIP evaluator's definitions (numpy/scipy).

Reads one JSON object on stdin, prints one JSON object. Deliberately plain (loops over the whole arrays, no
truncation tricks) so it checks models/eval/metrics.ts rather than repeating it. Run with Debian's /usr/bin/python3.
"""
import json
import sys

import numpy as np
from scipy import ndimage
from sklearn.metrics import precision_recall_curve, roc_auc_score

F32 = np.float32


def clf_curve(scores, positive):
    """Cumulative (fp, tp) at each distinct score, descending, as integer arrays."""
    order = np.argsort(-scores, kind="stable")
    s, y = scores[order], positive[order].astype(np.int64)
    last = np.r_[np.nonzero(np.diff(s))[0], len(s) - 1]
    tp = np.cumsum(y)[last]
    return last + 1 - tp, tp


def roc_f32(scores, positive):
    """ROC points from (0, 0), rates as float32 (torch divides the counts in float32)."""
    fp, tp = clf_curve(scores, positive)
    fp, tp = np.r_[0, fp], np.r_[0, tp]
    fpr = fp.astype(F32) / F32(fp[-1])
    tpr = tp.astype(F32) / F32(tp[-1])
    return fpr.astype(np.float64), tpr.astype(np.float64)


def official_ap(y, s):
    """PR points for every distinct score plus (recall 0, precision 1), stable sort by recall, trapezoids."""
    fp, tp = clf_curve(s, y)
    precision = np.r_[(tp / (tp + fp))[::-1], 1.0]
    recall = np.r_[(tp / tp[-1])[::-1], 0.0]
    o = np.argsort(recall, kind="stable")
    return float(np.trapz(precision[o], recall[o]))


def official_f1max(y, s):
    p, r, _ = precision_recall_curve(y, s)
    return float(np.max(2 * p * r / (p + r + 1e-10)))


def lower_bound(xs, v):
    lo, hi = 0, len(xs)
    while lo < hi:
        mid = (lo + hi) // 2
        if xs[mid] < v:
            lo = mid + 1
        else:
            hi = mid
    return lo


def official_aupro(maps, masks, limit=0.3):
    preds = np.concatenate([m.ravel() for m in maps]).astype(F32)
    labels, count = [], 0
    for g in masks:
        lab, n = ndimage.label(g, structure=np.ones((3, 3), dtype=int))
        labels.append(np.where(lab > 0, lab + count, 0).ravel())
        count += n
    lab = np.concatenate(labels)
    L = float(F32(limit))
    fpr_all, _ = roc_f32(preds, lab > 0)
    G = int(np.sum(fpr_all <= L))
    sum_f, sum_t = np.zeros(G), np.zeros(G)
    background = lab == 0
    for region in range(1, count + 1):
        inside = lab == region
        sel = background | inside
        fpr, tpr = roc_f32(preds[sel], inside[sel])
        cut = L if fpr[fpr <= L].max() > 0 else fpr[fpr > L].min()
        keep = list(np.nonzero(fpr <= cut)[0])
        frac = None
        if abs(fpr[keep].max() - L) > 1e-8 + 1e-5 * L:
            nxt = int(np.searchsorted(fpr, L, side="left"))
            keep.append(nxt)
            frac = 1 - (fpr[nxt] - L) / (fpr[nxt] - fpr[nxt - 1])
        x = np.array(keep, dtype=np.float64)
        x = x / x.max() * (G - 1)
        grid = np.arange(G, dtype=np.float64)
        if frac is not None:
            grid[-1] = x[-2] + (x[-1] - x[-2]) * frac
        if np.all(np.diff(x) >= 0):
            knot = np.searchsorted(x, grid, side="left")  # the same as lower_bound on sorted knots
        else:
            knot = np.array([lower_bound(x, g) for g in grid])
        j = np.clip(knot - 1, 0, len(x) - 2)
        for ys, acc in ((fpr[keep], sum_f), (tpr[keep], sum_t)):
            acc += ys[j] + (ys[j + 1] - ys[j]) / (2.0**-23 + x[j + 1] - x[j]) * (grid - x[j])
    F, T = sum_f / count, sum_t / count
    o = np.argsort(F, kind="stable")
    with np.errstate(invalid="ignore", divide="ignore"):
        return float(np.trapz(T[o], F[o]) / F[-1])


def exact_aupro(maps, masks, limit=0.3):
    """MVTec AD's definition by brute force: mean overlap over all regions vs global FPR, ∫ to the limit / limit."""
    regions = []
    for m, g in zip(maps, masks):
        lab, n = ndimage.label(g, structure=np.ones((3, 3), dtype=int))
        regions += [(m, lab == i) for i in range(1, n + 1)]
    normal = np.concatenate([m[~g] for m, g in zip(maps, masks)])
    fprs, pros = [0.0], [0.0]
    for t in np.unique(np.concatenate([m.ravel() for m in maps]))[::-1]:
        fprs.append(float(np.mean(normal >= t)))
        pros.append(float(np.mean([np.mean(m[r] >= t) for m, r in regions])))
    fprs, pros = np.array(fprs), np.array(pros)
    keep = fprs <= limit
    x, y = list(fprs[keep]), list(pros[keep])
    if not keep.all():
        k = int(np.argmax(~keep))
        x.append(limit)
        y.append(pros[k - 1] + (pros[k] - pros[k - 1]) * (limit - fprs[k - 1]) / (fprs[k] - fprs[k - 1]))
    return float(np.trapz(y, x) / limit)


def official_truth(path, size):
    """The official dataset's ground truth: convert('L') > 0 as 0/255, PIL bilinear to size², ToTensor, > 0.5."""
    from PIL import Image

    binary = (np.array(Image.open(path).convert("L")) > 0).astype(np.uint8) * 255
    resized = Image.fromarray(binary, mode="L").resize((size, size), Image.BILINEAR)
    return (np.asarray(resized, dtype=F32) / F32(255)) > 0.5


def saved_runs(root):
    """Every metric recomputed from an eval --save-maps folder (index.json, .f32 maps, .u8 masks)."""
    import os

    index = json.load(open(os.path.join(root, "index.json")))
    n = index["grid"]
    runs = []
    for run in index["runs"]:
        y = np.array([i["label"] for i in run["images"]]).astype(bool)
        s = np.array([i["score"] for i in run["images"]], dtype=F32)
        maps, masks = [], []
        for i in run["images"]:
            maps.append(np.fromfile(os.path.join(root, i["map"]), dtype="<f4").reshape(n, n))
            masks.append(np.zeros((n, n), bool) if i["mask"] is None else np.fromfile(os.path.join(root, i["mask"]), dtype=np.uint8).reshape(n, n) > 0)
        py = np.concatenate([m.ravel() for m in masks])
        ps = np.concatenate([m.ravel() for m in maps])
        runs.append(dict(
            iAuroc=float(roc_auc_score(y, s)), iAp=official_ap(y, s), iF1max=official_f1max(y, s),
            pAuroc=float(roc_auc_score(py, ps)), pAupr=official_ap(py, ps), pF1max=official_f1max(py, ps),
            aupro=official_aupro(maps, masks),
        ))
    return runs


def main():
    d = json.load(sys.stdin)
    if "saved" in d:
        print(json.dumps(saved_runs(d["saved"])))
        return
    if "truth" in d:
        print(json.dumps([official_truth(p, d["size"]).astype(int).ravel().tolist() for p in d["truth"]]))
        return
    out = {}
    if "labels" in d:
        y = np.array(d["labels"]).astype(bool)
        s = np.array(d["scores"], dtype=F32)
        out.update(auroc=float(roc_auc_score(y, s)), ap=official_ap(y, s), f1=official_f1max(y, s))
    if "samples" in d:
        maps = [np.array(x["map"], dtype=F32).reshape(x["h"], x["w"]) for x in d["samples"]]
        masks = [np.array(x["mask"]).reshape(x["h"], x["w"]) > 0 for x in d["samples"]]
        out["aupro"] = official_aupro(maps, masks, d.get("limit", 0.3))
        if d.get("exact"):
            out["exact"] = exact_aupro([m.astype(np.float64) for m in maps], masks, d.get("limit", 0.3))
    print(json.dumps({k: (v if np.isfinite(v) else None) for k, v in out.items()}))


if __name__ == "__main__":
    main()

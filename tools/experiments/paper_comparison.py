"""The paper's comparison, reproduced: five deployment strategies over four links.

Usage: .venv/bin/python tools/experiments/paper_comparison.py [--cleave .build/release/cleave]
           [--models digits,magika,ocr_cls,lcnet_orientation] [--max-accuracy-drop 1] [--eval-samples 32]
           [--slowdown 8] [--repeats 5] [--warmup 3] [--readme README.md]

Models are trained networks of the zoo (`tools/zoo.py` writes .models/zoo/NAME/
with calibration and a disjoint evaluation set), or the constant-weight light
models (`alexnet`, `vgg19`, ... from tools/light_models.py), whose rows are
speed-only: every matrix is rank 1, so their compression says nothing of a real
network and they get `--rank-energy 0.98` without a budget.

Edge = this machine at 1 thread, every measured time multiplied by --slowdown
(S, default 8: a small ARM board); cloud = this machine at 2 threads; the link
is emulated: transfer = boundary bytes x 8 / bandwidth + RTT (20 ms), at 1, 5,
20 and 100 Mbps. Strategies:
  edge-only     the original model on the edge
  cloud-only    the input crosses, the original model runs in the cloud
  split         best cut of the uncompressed model (Neurosurgeon-style; `cleave split --no-compress`)
  compress      the compressed model, all on the edge (`cleave compress --max-accuracy-drop P`)
  cleave        joint compress + split (`cleave split --max-accuracy-drop P --boundary-codec int8`;
                without the codec for models older than opset 10)
Both compressed strategies search their compression under the same budget
(P points of top-1 agreement on the calibration samples the fit holds back).
For each: predicted total (from the plan) and measured total (the halves really
run on the first evaluation sample; medians of --repeats after --warmup untimed
runs), and the fidelity on the first --eval-samples samples of the evaluation
set, which neither the fit nor the budget saw: top-1 agreement with the
original and, where the zoo has labels, the accuracy change in points.
Writes a markdown table and an SVG chart into the README's results section
(between <!-- experiments:start --> and <!-- experiments:end -->) and prints them.
"""
import argparse, json, os, shutil, subprocess, sys, tempfile
import numpy as np

parser = argparse.ArgumentParser()
parser.add_argument("--cleave", default=".build/release/cleave")
parser.add_argument("--models", default="digits,magika,ocr_cls,lcnet_orientation")
parser.add_argument("--max-accuracy-drop", type=float, default=1.0)
parser.add_argument("--eval-samples", type=int, default=32)
parser.add_argument("--slowdown", type=float, default=8.0)
parser.add_argument("--repeats", type=int, default=5)
parser.add_argument("--warmup", type=int, default=3)
parser.add_argument("--bandwidths", default="1,5,20,100")
parser.add_argument("--rtt", type=float, default=20.0)
parser.add_argument("--readme", default="README.md")
args = parser.parse_args()
root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
S, RTT = args.slowdown, args.rtt
bandwidths = [float(b) for b in args.bandwidths.split(",")]
work = tempfile.mkdtemp(prefix="cleave-experiments-")
LIGHT = {"alexnet", "vgg19", "resnet50", "squeezenet", "densenet121", "inception_v1", "inception_v2", "shufflenet", "zfnet512"}


def cleave(*arguments, check=True):
    result = subprocess.run([args.cleave, *arguments], capture_output=True, text=True)
    if result.returncode != 0:
        if not check:
            return None
        sys.exit(f"cleave {' '.join(arguments)} failed: {result.stderr.strip()}")
    return result.stdout


def safe(name):
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in name)


def run(target, feeds, threads, out_dir=None):
    """Median ms of `cleave run` on a model or bundle, and its outputs."""
    out_dir = out_dir or tempfile.mkdtemp(dir=work)
    command = ["run", target, "--threads", str(threads), "--repeat", str(args.repeats + args.warmup), "--json", "--output-dir", out_dir]
    for name, path in feeds.items():
        command += ["--input", f"{name}={path}"]
    report = json.loads(cleave(*command))
    runs = report["latency_ms"]["runs"][args.warmup:]
    outputs = {o["name"]: o["file"] for o in report["outputs"]}
    return float(np.median(runs)), outputs


def top1(outputs):
    return np.argmax(outputs.reshape(outputs.shape[0], -1), axis=1)


def evaluate(target, cloud, samples, output):
    """The `output` of a model or bundle pair on each evaluation sample, stacked.

    Bundles have fixed shapes (batch 1), so every strategy runs one sample at a time."""
    rows = []
    for i in range(len(samples[next(iter(samples))])):
        out_dir = tempfile.mkdtemp(dir=work)
        command = ["run", target] + ([cloud] if cloud else []) + ["--output-dir", out_dir]
        for name, array in samples.items():
            path = os.path.join(out_dir, f"in_{safe(name)}.npy")
            np.save(path, array[i:i + 1])
            command += ["--input", f"{name}={path}"]
        cleave(*command)
        rows.append(np.load(os.path.join(out_dir, safe(output) + ".npy")))
    return np.concatenate(rows, axis=0)


def measured_split(out, feeds, bandwidth):
    """Measured total of a written split: edge half × S + transfer + cloud half."""
    edge_ms, edge_out = run(os.path.join(out, "edge"), feeds, 1)
    manifest = json.load(open(os.path.join(out, "edge", "manifest.json")))
    if not os.path.exists(os.path.join(out, "cloud")):
        return S * edge_ms, edge_out, 0
    boundary = {b["name"]: edge_out[b["name"]] for b in manifest["boundary"]}
    sent = sum(os.path.getsize(path) - 128 for path in boundary.values())  # .npy header is 128 bytes
    cloud_ms, cloud_out = run(os.path.join(out, "cloud"), boundary, 2)
    outputs = {**{k: v for k, v in edge_out.items() if k in manifest["final_outputs"]}, **cloud_out}
    return S * edge_ms + sent * 8 / (bandwidth * 1e6) * 1000 + RTT + cloud_ms, outputs, sent


rows = []
try:
    for model_name in args.models.split(","):
        speed_only = model_name in LIGHT
        if speed_only:
            path = os.path.join(root, ".models", "light", model_name + ".onnx")
            if not os.path.exists(path):
                sys.exit(f"{path} is missing: run .venv/bin/python tools/light_models.py --only {model_name}")
            inputs = json.loads(cleave("inspect", path, "--json"))["inputs"]
            feeds = {inputs[0]["name"]: os.path.join(root, ".models", "light", model_name, "input_0.npy")}
            calibration, shape_args, strength, output, labels, samples = [], [], ["--rank-energy", "0.98"], None, None, None
        else:
            folder = os.path.join(root, ".models", "zoo", model_name)
            if not os.path.exists(os.path.join(folder, "manifest.json")):
                sys.exit(f"{folder} is missing: run .venv/bin/python tools/zoo.py --only {model_name}")
            manifest = json.load(open(os.path.join(folder, "manifest.json")))
            if manifest["metric"]["kind"] != "top1":
                sys.exit(f"{model_name}: its metric is {manifest['metric']['kind']}; this comparison scores top-1 classifiers")
            path = os.path.join(folder, "model.onnx")
            output = manifest["metric"]["output"]
            calibration, shape_args, samples, feeds = [], [], {}, {}
            for spec in manifest["inputs"]:
                calibration += ["--calibration", f"{spec['name']}={os.path.join(folder, spec['calibration'])}"]
                shape_args += ["--input-shape", f"{spec['name']}=" + ",".join(map(str, spec["sample_shape"]))]
                samples[spec["name"]] = np.load(os.path.join(folder, spec["evaluation"]))[:args.eval_samples]
                feeds[spec["name"]] = os.path.join(work, f"{model_name}-{safe(spec['name'])}.npy")
                np.save(feeds[spec["name"]], samples[spec["name"]][:1])
            labels_path = os.path.join(folder, "evaluation_labels.npy")
            labels = np.load(labels_path)[:args.eval_samples] if os.path.exists(labels_path) else None
            strength = ["--max-accuracy-drop", str(args.max_accuracy_drop)]
        input_bytes = sum(np.load(p).nbytes for p in feeds.values())
        print(f"{model_name}: measuring", file=sys.stderr)
        edge_ms, _ = run(path, feeds, 1)
        cloud_ms, _ = run(path, feeds, 2)
        reference = evaluate(path, None, samples, output) if samples else None

        def scored(target, cloud=None):
            """(top-1 agreement with the original, accuracy change in points) on the evaluation samples."""
            if reference is None:
                return float("nan"), float("nan")
            candidate = evaluate(target, cloud, samples, output)
            agreement = float(np.mean(top1(candidate) == top1(reference)))
            if labels is None:
                return agreement, float("nan")
            return agreement, float(np.mean(top1(candidate) == labels) - np.mean(top1(reference) == labels)) * 100

        compressed = os.path.join(work, model_name + "-compressed.onnx")
        comp_report = json.loads(cleave("compress", path, "-o", compressed, "--json", *strength, *calibration, *shape_args))
        comp_chosen = (comp_report.get("search") or {}).get("chosen", "rank energy 0.98")
        comp_ms, _ = run(compressed, feeds, 1)
        comp_fidelity = scored(compressed)
        for bw in bandwidths:
            common = ["--bandwidth", f"{bw}Mbps", "--rtt", f"{RTT}ms", "--json", "--force", *shape_args]
            ns_dir = os.path.join(work, f"{model_name}-ns-{bw}")
            ns = json.loads(cleave("split", path, "-o", ns_dir, "--no-compress", *common))
            joint_dir = os.path.join(work, f"{model_name}-joint-{bw}")
            # The int8 codec needs QuantizeLinear (opset >= 10); older models cross raw.
            joint_text = cleave("split", path, "-o", joint_dir, *strength, "--boundary-codec", "int8", *common, *calibration, check=False) \
                or cleave("split", path, "-o", joint_dir, *strength, *common, *calibration)
            joint = json.loads(joint_text)
            chosen = (joint.get("search") or {}).get("chosen", "rank energy 0.98")

            def candidate(plan, label):
                return next((c["total_ms"] for c in plan["plan"]["candidates"] if c["label"] == label), float("nan"))

            ns_measured, _, _ = measured_split(ns_dir, feeds, bw)
            joint_measured, _, _ = measured_split(joint_dir, feeds, bw)
            joint_cloud = os.path.join(joint_dir, "cloud")
            joint_fidelity = scored(os.path.join(joint_dir, "edge"), joint_cloud if os.path.exists(joint_cloud) else None)
            transfer_in = input_bytes * 8 / (bw * 1e6) * 1000 + RTT
            exact = (1.0, 0.0) if reference is not None else (float("nan"), float("nan"))
            strategies = [
                ("edge-only", candidate(ns, "edge-only"), S * edge_ms, exact, "-"),
                ("cloud-only", candidate(ns, "cloud-only"), transfer_in + cloud_ms, exact, "-"),
                ("split", ns["plan"]["best"]["total_ms"], ns_measured, exact, "-"),
                ("compress", float("nan"), S * comp_ms, comp_fidelity, comp_chosen),
                ("cleave", joint["plan"]["best"]["total_ms"], joint_measured, joint_fidelity, chosen),
            ]
            best_baseline = min(m for name, _, m, _, _ in strategies if name != "cleave")
            for name, predicted, measured, (agree, accuracy), how in strategies:
                label = model_name + (" (speed only)" if speed_only else "")
                rows.append((label, bw, name, predicted, measured, agree, accuracy, how, best_baseline))
            print(f"  {bw:g} Mbps: " + ", ".join(f"{n} {m:.1f} ms" for n, _, m, _, _ in strategies), file=sys.stderr)
finally:
    shutil.rmtree(work, ignore_errors=True)

# Table.
lines = [f"Edge = this machine, 1 thread, times × {S:g}; cloud = this machine, 2 threads; RTT {RTT:g} ms; "
         "measured = the halves really run on one evaluation sample (medians), the link emulated. Both compressed "
         f"strategies search their compression within {args.max_accuracy_drop:g} point of top-1 agreement on held-back "
         f"calibration samples; fidelity is then measured on up to {args.eval_samples} evaluation samples neither saw "
         "(top-1 agreement with the original; accuracy change against the zoo's labels).", "",
         "| model | Mbps | strategy | compression | predicted ms | measured ms | vs best baseline | top-1 agree | accuracy change |",
         "| --- | ---: | --- | --- | ---: | ---: | ---: | ---: | ---: |"]
for model_name, bw, name, predicted, measured, agree, accuracy, how, best in rows:
    change = f"{(measured / best - 1) * 100:+.0f}%" if name == "cleave" else ""
    agree_text = "-" if agree != agree else f"{agree * 100:.1f}%"
    accuracy_text = "-" if accuracy != accuracy else f"{accuracy:+.1f}"
    predicted_text = "-" if predicted != predicted else f"{predicted:.1f}"
    lines.append(f"| {model_name} | {bw:g} | {name} | {how} | {predicted_text} | {measured:.1f} | {change} | {agree_text} | {accuracy_text} |")
table = "\n".join(lines)

# Chart: one group per (model, bandwidth), one bar per strategy (measured), log-free linear per model.
colors = {"edge-only": "#4e79a7", "cloud-only": "#f28e2b", "split": "#59a14f", "compress": "#b07aa1", "cleave": "#e15759"}
order = list(dict.fromkeys(r[0] for r in rows))
groups = sorted({(m, bw) for m, bw, *_ in rows}, key=lambda g: (order.index(g[0]), g[1]))
bar, gap, height, top = 10, 14, 160, 30
width = len(groups) * (5 * bar + gap) + 80
svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height + 90}" font-family="sans-serif" font-size="10">',
       f'<text x="10" y="16" font-size="12">Measured end-to-end latency per strategy (each model scaled to its slowest bar)</text>']
x = 60
for model_name, bw in groups:
    group = [r for r in rows if r[0] == model_name and r[1] == bw]
    scale = max(r[4] for r in rows if r[0] == model_name)
    for i, r in enumerate(group):
        h = height * r[4] / scale
        svg.append(f'<rect x="{x + i * bar}" y="{top + height - h:.1f}" width="{bar - 1}" height="{h:.1f}" fill="{colors[r[2]]}"><title>{model_name} {bw:g} Mbps {r[2]}: {r[4]:.1f} ms</title></rect>')
    svg.append(f'<text x="{x}" y="{top + height + 12}">{bw:g}M</text>')
    if bw == bandwidths[0]:
        svg.append(f'<text x="{x}" y="{top + height + 26}" font-weight="bold">{model_name}</text>')
    x += 5 * bar + gap
for i, (name, color) in enumerate(colors.items()):
    svg.append(f'<rect x="{60 + i * 90}" y="{top + height + 40}" width="10" height="10" fill="{color}"/><text x="{74 + i * 90}" y="{top + height + 49}">{name}</text>')
svg.append("</svg>")
chart_path = os.path.join(root, "tools", "experiments", "paper_comparison.svg")
open(chart_path, "w").write("\n".join(svg) + "\n")

print(table)
readme = os.path.join(root, args.readme)
text = open(readme).read()
start, end = "<!-- experiments:start -->", "<!-- experiments:end -->"
if start in text and end in text:
    block = f"{start}\n{table}\n\n![latency per strategy](tools/experiments/paper_comparison.svg)\n\nProduced by `.venv/bin/python tools/experiments/paper_comparison.py`.\n{end}"
    text = text[:text.index(start)] + block + text[text.index(end) + len(end):]
    open(readme, "w").write(text)
    print(f"updated {args.readme}", file=sys.stderr)

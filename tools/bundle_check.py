"""ONNX Runtime oracle for `cleave cut`: both halves are standard ONNX and compose exactly.

Usage: .venv/bin/python tools/bundle_check.py CLEAVE_BINARY [MODEL.onnx ...]
Without models it checks every fixture. For each model it cuts at three points
(early, middle, late: tensors a quarter, half and three quarters through the
node list), then checks that both manifests validate against schemas/bundle.schema.json, that both model.onnx files pass
onnx.checker.check_model(full_check=True), that ONNX Runtime running edge then
cloud equals ONNX Runtime on the whole model within 1e-5 relative L2, that
`cleave run EDGE CLOUD` does too, and that `cleave verify EDGE CLOUD` exits 0.
Extra cuts can be given as MODEL.onnx:TENSOR[,TENSOR] (e.g. inside a residual block).
Prints 'N passed, N failed'.
"""
import json, os, subprocess, sys, tempfile
import numpy as np
import onnx
import onnxruntime as ort
import jsonschema

schema = json.load(open(os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "schemas", "bundle.schema.json")))

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
cleave = sys.argv[1]


def feeds_for(path):
    folder = os.path.dirname(path)
    spec = os.path.join(folder, "fixture.json")
    if os.path.exists(spec):
        fx = json.load(open(spec))
        return {i["name"]: np.load(os.path.join(folder, i["file"])) for i in fx["inputs"]}
    session = ort.InferenceSession(path)
    feeds = {}
    for i in session.get_inputs():
        shape = [d if isinstance(d, int) else 1 for d in i.shape]
        n = int(np.prod(shape))
        if i.type in ("tensor(int64)", "tensor(int32)"):
            # Small non-negative integers: valid token ids or indices for the models that take them.
            feeds[i.name] = (np.arange(n) % 100).reshape(shape).astype(np.int64 if i.type == "tensor(int64)" else np.int32)
        else:
            feeds[i.name] = (np.arange(n, dtype=np.float64).reshape(shape) / n).astype(np.float32)
    return feeds


def rel_l2(a, b):
    a = a.astype(np.float64); b = b.astype(np.float64)
    norm = np.linalg.norm(b)
    return np.linalg.norm(a - b) / (norm if norm > 0 else 1)


def cut_points(path):
    model = onnx.load(path, load_external_data=False)
    outputs = {o.name for o in model.graph.output}
    nodes = [n for n in model.graph.node if n.op_type not in ("Constant", "Shape")]
    candidates = [t for n in nodes[:-1] for t in n.output if t and t not in outputs]
    return [[candidates[len(candidates) * k // 4]] for k in (1, 2, 3)]


targets = []
arguments = sys.argv[2:]
if not arguments:
    arguments = [os.path.join(root, "fixtures", n, "model.onnx") for n in sorted(os.listdir(os.path.join(root, "fixtures")))
                 if os.path.exists(os.path.join(root, "fixtures", n, "fixture.json"))]
for argument in arguments:
    if ":" in argument and not os.path.exists(argument):
        path, tensors = argument.rsplit(":", 1)
        targets.append((path, [tensors.split(",")]))
    else:
        targets.append((argument, cut_points(argument)))

passed = failed = 0
options = ort.SessionOptions()
options.intra_op_num_threads = 2
for path, cuts in targets:
    feeds = feeds_for(path)
    whole_session = ort.InferenceSession(path, options)
    names = [o.name for o in whole_session.get_outputs()]
    whole = dict(zip(names, whole_session.run(None, feeds)))
    for tensors in cuts:
        label = f"{os.path.relpath(path, root)} at {','.join(tensors)}"
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "out")
            shape_args = []
            spec = os.path.join(os.path.dirname(path), "fixture.json")
            if os.path.exists(spec):
                for arg in json.load(open(spec)).get("input_shape_args", []):
                    shape_args += ["--input-shape", arg]
            r = subprocess.run([cleave, "cut", path, "--at", ",".join(tensors), "-o", out] + shape_args, capture_output=True, text=True)
            if r.returncode != 0:
                print(f"FAIL {label}: cleave cut exited {r.returncode}: {r.stderr.strip()}"); failed += 1; continue
            problems = []
            for side in ("edge", "cloud"):
                try:
                    jsonschema.validate(json.load(open(os.path.join(out, side, "manifest.json"))), schema,
                                        cls=jsonschema.Draft202012Validator)
                except jsonschema.ValidationError as e:
                    problems.append(f"{side} manifest fails bundle.schema.json: {e.message}")
                try:
                    onnx.checker.check_model(os.path.join(out, side, "model.onnx"), full_check=True)
                except Exception as e:  # noqa: BLE001 - report any checker complaint
                    problems.append(f"{side} fails the ONNX checker: {str(e).splitlines()[0]}")
            edge = ort.InferenceSession(os.path.join(out, "edge", "model.onnx"), options)
            edge_out = dict(zip([o.name for o in edge.get_outputs()], edge.run(None, {i.name: feeds[i.name] for i in edge.get_inputs()})))
            cloud = ort.InferenceSession(os.path.join(out, "cloud", "model.onnx"), options)
            cloud_out = dict(zip([o.name for o in cloud.get_outputs()], cloud.run(None, {i.name: edge_out[i.name] for i in cloud.get_inputs()})))
            composed = {**{k: v for k, v in edge_out.items() if k in whole}, **cloud_out}
            for name in names:
                if name not in composed or rel_l2(composed[name], whole[name]) > 1e-5:
                    problems.append(f"ORT edge→cloud differs on {name}")
            run_dir = os.path.join(tmp, "run")
            command = [cleave, "run", os.path.join(out, "edge"), os.path.join(out, "cloud"), "--output-dir", run_dir]
            for name, value in feeds.items():
                file = os.path.join(tmp, f"in{len(command)}.npy"); np.save(file, value)
                command += ["--input", f"{name}={file}"]
            r = subprocess.run(command, capture_output=True, text=True)
            if r.returncode != 0:
                problems.append(f"cleave run EDGE CLOUD exited {r.returncode}: {r.stderr.strip()}")
            else:
                for name in names:
                    file = os.path.join(run_dir, "".join(c if c.isalnum() or c in "._-" else "_" for c in name) + ".npy")
                    if rel_l2(np.load(file), whole[name]) > 1e-5 and not np.allclose(np.load(file), whole[name], rtol=1e-3, atol=1e-4):
                        problems.append(f"cleave run EDGE CLOUD differs on {name}")
            r = subprocess.run([cleave, "verify", os.path.join(out, "edge"), os.path.join(out, "cloud")], capture_output=True, text=True)
            if r.returncode != 0:
                problems.append(f"cleave verify exited {r.returncode}: {r.stdout.strip()}")
            if problems:
                failed += 1; print(f"FAIL {label}: " + "; ".join(problems))
            else:
                passed += 1; print(f"ok   {label}")
print(f"bundles: {passed} passed, {failed} failed")
sys.exit(1 if failed else 0)

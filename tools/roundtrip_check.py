"""ONNX Runtime oracle for `cleave convert`: converted models give bit-identical outputs.

Usage: .venv/bin/python tools/roundtrip_check.py CLEAVE_BINARY [MODEL_DIR...]
Checks every fixture (and any extra .onnx files in MODEL_DIRs, e.g. .models/light)
with its own inputs, or with the onnx test runner's arange input where a model has
no fixture inputs. Prints 'N passed, N failed'.
"""
import json, os, subprocess, sys, tempfile
import numpy as np
import onnx
import onnxruntime as ort

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
cleave = sys.argv[1]
cases = []
for name in sorted(os.listdir(os.path.join(root, "fixtures"))):
    spec = os.path.join(root, "fixtures", name, "fixture.json")
    if os.path.exists(spec):
        fx = json.load(open(spec))
        feeds = {i["name"]: np.load(os.path.join(root, "fixtures", name, i["file"])) for i in fx["inputs"]}
        cases.append((name, os.path.join(root, "fixtures", name, "model.onnx"), feeds))
for folder in sys.argv[2:]:
    for file in sorted(os.listdir(folder)):
        if file.endswith(".onnx"):
            path = os.path.join(folder, file)
            session = ort.InferenceSession(path)
            feeds = {}
            for i in session.get_inputs():
                shape = [d if isinstance(d, int) else 1 for d in i.shape]
                n = int(np.prod(shape))
                feeds[i.name] = (np.arange(n, dtype=np.float64).reshape(shape) / n).astype(np.float32)
            cases.append((file, path, feeds))

passed = failed = 0
with tempfile.TemporaryDirectory() as tmp:
    for name, path, feeds in cases:
        out = os.path.join(tmp, "converted.onnx")
        result = subprocess.run([cleave, "convert", path, "-o", out], capture_output=True, text=True)
        if result.returncode != 0:
            print(f"FAIL {name}: cleave convert exited {result.returncode}: {result.stderr.strip()}")
            failed += 1
            continue
        onnx.checker.check_model(out, full_check=True)
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        a = ort.InferenceSession(path, options).run(None, feeds)
        b = ort.InferenceSession(out, options).run(None, feeds)
        if all(x.dtype == y.dtype and x.shape == y.shape and x.tobytes() == y.tobytes() for x, y in zip(a, b)):
            passed += 1
            print(f"ok   {name}")
        else:
            failed += 1
            print(f"FAIL {name}: outputs differ")
        os.remove(out)
print(f"roundtrip: {passed} passed, {failed} failed")
sys.exit(1 if failed else 0)

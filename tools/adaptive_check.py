"""ONNX Runtime oracle for adaptive bundles, and a server killed mid-stream.

Usage: .venv/bin/python tools/adaptive_check.py CLEAVE_BINARY [MODEL.onnx ...]

For each model (default: fixtures/pytorch_style, planned up to 10 Gbps with no
RTT so that it has several cuts; a zoo model is run on its first evaluation
sample over the default range) `cleave split --adaptive --no-compress` writes
one pair of bundles; then:
- both manifests validate against schemas/bundle.schema.json (format 2);
- every cut's model file passes onnx.checker (full_check) and ONNX Runtime loads it;
- at every cut, ONNX Runtime running the edge model then the cloud model (or the
  edge model alone for edge-only) equals ONNX Runtime on the whole model within
  1e-5 relative L2, and so does `cleave run EDGE CLOUD --cut ID`;
- on the first model, `cleave serve CLOUD` is started and `cleave run EDGE --remote URL --adaptive`
  streams requests for 6 s; the server is killed (SIGKILL) after 2 s: the run
  still exits 0, at least one request reports a fallback, the last ones run
  edge-only, and the outputs equal ONNX Runtime's.
Prints one line per check and 'adaptive: N passed, N failed'.
"""
import json, os, re, socket, subprocess, sys, tempfile, time

import jsonschema
import numpy as np
import onnx
import onnxruntime as ort

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
cleave = os.path.abspath(sys.argv[1])
schema = json.load(open(os.path.join(root, "schemas", "bundle.schema.json")))
models = sys.argv[2:] or [os.path.join(root, "fixtures/pytorch_style/model.onnx")]
passed = failed = 0


def check(ok, what):
    global passed, failed
    print(("ok    " if ok else "FAIL  ") + what)
    passed += bool(ok)
    failed += not ok


def rel_l2(a, b):
    a, b = a.astype(np.float64), b.astype(np.float64)
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-30))


def feeds_for(path):
    """Inputs, and the arguments split needs: a fixture's own inputs (planned up to 10 Gbps with no RTT, where
    even a tiny model has several cuts), or a zoo model's first evaluation sample (the default range)."""
    folder = os.path.dirname(path)
    if os.path.exists(os.path.join(folder, "fixture.json")):
        fixture = json.load(open(os.path.join(folder, "fixture.json")))
        feeds = {i["name"]: np.load(os.path.join(folder, i["file"])) for i in fixture["inputs"]}
        return feeds, ["--bandwidth-range", "1Mbps-10Gbps", "--rtt", "0"]
    if os.path.exists(os.path.join(folder, "manifest.json")) and os.path.exists(os.path.join(folder, "evaluation.npy")):
        spec = json.load(open(os.path.join(folder, "manifest.json")))["inputs"][0]
        sample = np.load(os.path.join(folder, "evaluation.npy"))[:1]
        shape = ["--input-shape", spec["name"] + "=" + ",".join(str(d) for d in spec["sample_shape"])]
        return {spec["name"]: sample}, shape
    session = ort.InferenceSession(path)
    return ({i.name: np.random.default_rng(0).standard_normal([d if isinstance(d, int) else 1 for d in i.shape]).astype(np.float32)
             for i in session.get_inputs()}, [])


def file_safe(name):
    """The file name `cleave run --output-dir` gives an output."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)


def ort_run(path, feeds):
    session = ort.InferenceSession(path)
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(None, {i.name: feeds[i.name] for i in session.get_inputs()})))


for model in models:
    name = os.path.basename(os.path.dirname(model)) if model.endswith("/model.onnx") else os.path.basename(model)
    feeds, plan_args = feeds_for(model)
    whole = ort_run(model, feeds)
    with tempfile.TemporaryDirectory() as work:
        out = os.path.join(work, "out")
        split = subprocess.run([cleave, "split", model, "-o", out, "--adaptive", "--no-compress"] + plan_args, capture_output=True, text=True)
        check(split.returncode == 0, f"{name}: split --adaptive exits 0 {split.stderr.strip()[-300:]}")
        if split.returncode != 0:
            continue
        manifests = {side: json.load(open(os.path.join(out, side, "manifest.json"))) for side in ("edge", "cloud")}
        for side, manifest in manifests.items():
            try:
                jsonschema.validate(manifest, schema)
                check(manifest["version"] == 2 and len(manifest["cuts"]) >= 2, f"{name}: {side} manifest is format 2 with {len(manifest['cuts'])} cuts")
            except jsonschema.ValidationError as error:
                check(False, f"{name}: {side} manifest fails bundle.schema.json: {error.message}")
        input_paths = {}
        for key, value in feeds.items():
            input_paths[key] = os.path.join(work, f"input{len(input_paths)}.npy")
            np.save(input_paths[key], value)
        inputs = [a for key, path in input_paths.items() for a in ("--input", f"{key}={path}")]

        for edge_cut, cloud_cut in zip(manifests["edge"]["cuts"], manifests["cloud"]["cuts"]):
            cut = edge_cut["id"]
            edge_model = os.path.join(out, "edge", edge_cut["model"])
            files = [edge_model] + ([os.path.join(out, "cloud", cloud_cut["model"])] if cloud_cut["model"] else [])
            try:
                for f in files:
                    onnx.checker.check_model(onnx.load(f), full_check=True)
                edge_outputs = ort_run(edge_model, feeds)
                outputs = {**edge_outputs, **(ort_run(files[1], edge_outputs) if len(files) > 1 else {})}
                error = max(rel_l2(outputs[k], v) for k, v in whole.items())
                check(error < 1e-5, f"{name}: cut {cut}: ONNX Runtime edge → cloud equals the whole model (rel L2 {error:.1e})")
            except Exception as e:  # a checker or ORT refusal is a failed check, not a crash
                check(False, f"{name}: cut {cut}: {type(e).__name__}: {str(e)[:300]}")
                continue
            folder = os.path.join(work, "run-" + cut)
            command = [cleave, "run", os.path.join(out, "edge")] + ([os.path.join(out, "cloud")] if cloud_cut["model"] else [])
            result = subprocess.run(command + ["--cut", cut, "--output-dir", folder] + inputs, capture_output=True, text=True)
            ok = result.returncode == 0 and all(
                rel_l2(np.load(os.path.join(folder, file_safe(k) + ".npy")), v) < 1e-5 for k, v in whole.items())
            check(ok, f"{name}: cut {cut}: cleave run --cut equals ONNX Runtime {result.stderr.strip()[-200:]}")

        # A server that dies mid-stream costs no request (on the first model: a small one keeps the stream short).
        if model != models[0]:
            continue
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        server = subprocess.Popen([cleave, "serve", os.path.join(out, "cloud"), "--port", str(port), "--threads", "1", "--log-level", "error"],
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        server.stdout.readline()
        schedule = os.path.join(work, "schedule")
        with open(schedule, "w") as f:
            f.write("0 6s 1Gbps 0ms\n")
        folder = os.path.join(work, "adaptive")
        client = subprocess.Popen([cleave, "run", os.path.join(out, "edge"), "--remote", f"http://127.0.0.1:{port}", "--adaptive",
                                   "--link-schedule", schedule, "--remote-timeout", "2s", "--edge-slowdown", "30", "--json",
                                   "--output-dir", folder] + inputs, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(2)
        server.kill()
        server.wait()
        stdout, stderr = client.communicate(timeout=120)
        check(client.returncode == 0, f"{name}: run --adaptive exits 0 although the server was killed {stderr.strip()[-300:]}")
        if client.returncode == 0:
            requests = json.loads(stdout)["requests"]
            edge_only = [c["id"] for c in manifests["edge"]["cuts"] if c["plan"]["placement"] == "edge-only"]
            remote = sum(1 for r in requests if r["cut"] not in edge_only)
            fallbacks = sum(1 for r in requests if r.get("fallback"))
            check(remote > 0, f"{name}: {remote} of {len(requests)} requests ran on the server before it was killed")
            check(fallbacks >= 1, f"{name}: {fallbacks} request(s) fell back to edge-only when the server went away")
            check(requests[-1]["cut"] in edge_only, f"{name}: the last request ran edge-only ({requests[-1]['cut']})")
            error = max(rel_l2(np.load(os.path.join(folder, file_safe(k) + ".npy")), v) for k, v in whole.items())
            check(error < 1e-5, f"{name}: the outputs after the fallback equal ONNX Runtime's (rel L2 {error:.1e})")

print(f"adaptive: {passed} passed, {failed} failed")
sys.exit(1 if failed else 0)

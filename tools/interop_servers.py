"""`cleave run --remote` against the v2 servers users already run, and against broken ones.

Usage: .venv/bin/python tools/interop_servers.py CLEAVE_BINARY

Cuts fixtures/pytorch_style inside its residual block (a two-tensor boundary)
and starts, on 127.0.0.1, the cloud half's model.onnx under

- KServe's own Python model server (`kserve.Model` + ONNX Runtime:
  tools/interop/kserve_onnx.py, in .venv-kserve),
- MLServer (a custom runtime + ONNX Runtime: tools/interop/mlserver_onnx.py,
  in .venv-mlserver; MLServer and KServe pin incompatible Starlette versions,
  hence two venvs, both made by tools/setup.sh),
- `cleave serve` itself, as the control,
- Triton's own server (see below).

Against each, `cleave run EDGE --remote URL --remote-model model` must exit 0
with the wire format the server's `GET /v2` implies (binary only where it lists
`binary_tensor_data`), outputs equal to the local pair's (`cleave run EDGE
CLOUD`, codec none) to float tolerance — and bit for bit equal to ONNX Runtime
run here on the same boundary tensors, so the protocol itself lost nothing —
and a warning (or, with --strict-pair, exit 65) where the server declares no
pair id. KServe also reads binary bodies without declaring the extension:
`--remote-wire binary` must work there; MLServer does not (a clean exit 74).

Then small fake servers answer with malformed JSON, wrong datatypes and
shapes, a truncated binary section, a redirect loop, a cut-off body and a 500:
each run must fail with exit 65 (protocol) or 74 (transport), one stderr line
naming the server and the problem, and no output files. Finally `cleave
export-kserve` must write a Triton repository and an InferenceService that
validates against KServe's CRD schema (tools/kserve/, trimmed), and Triton's
own server (2.51, from PyPI's nvidia-pytriton wheel, in .venv-triton) must
answer `cleave run --remote` in binary with ONNX Runtime's exact outputs: that
build has only the Python backend, so export-triton's config is served through
tools/interop/triton_onnx/model.py, and the unchanged export must fail to load
for the missing ONNX Runtime backend alone.

Prints one line per check and `interop: N passed, M failed`; exits 1 on a failure.
"""
import http.server, json, os, re, shutil, socket, subprocess, sys, tempfile, threading, time, urllib.request

import jsonschema
import numpy as np
import onnxruntime as ort

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
cleave = os.path.abspath(sys.argv[1])
fixture = os.path.join(root, "fixtures", "pytorch_style")
cut_at = "/layer1/layer1.0/relu/Relu_output_0"
interop = os.path.join(root, "tools", "interop")
passed = failed = 0


def check(what, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print(f"ok   {what}" + (f" ({detail})" if detail and len(detail) <= 160 else ""))
    else:
        failed += 1
        print(f"FAIL {what}" + (f": {detail}" if detail else ""))
    return ok


def run(*args):
    result = subprocess.run([cleave, *args], capture_output=True, text=True, timeout=300)
    if result.returncode != 0:
        raise RuntimeError(f"cleave {' '.join(args)} exited {result.returncode}: {result.stderr.strip()}")
    return result.stdout


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(url, process, log, seconds=90):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"exited {process.returncode} before it was ready: {tail(log)}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.25)
    raise RuntimeError(f"not ready after {seconds} s: {tail(log)}")


def tail(path, lines=5):
    try:
        return " | ".join(open(path, errors="replace").read().strip().splitlines()[-lines:])
    except OSError:
        return ""


def stop(process):
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# MARK: the servers

def start_kserve(work, model, name):
    python = os.path.join(root, ".venv-kserve", "bin", "python")
    if not os.path.exists(python):
        raise RuntimeError(".venv-kserve is missing: run tools/setup.sh")
    port, log = free_port(), os.path.join(work, "kserve.log")
    process = subprocess.Popen([python, os.path.join(interop, "kserve_onnx.py"), model, "--name", name, "--port", str(port)],
                               stdout=open(log, "w"), stderr=subprocess.STDOUT)
    wait_ready(f"http://127.0.0.1:{port}/v2/models/{name}/ready", process, log)
    return process, f"http://127.0.0.1:{port}"


def start_mlserver(work, model, name):
    executable = os.path.join(root, ".venv-mlserver", "bin", "mlserver")
    if not os.path.exists(executable):
        raise RuntimeError(".venv-mlserver is missing: run tools/setup.sh")
    folder, log = os.path.join(work, "mlserver"), os.path.join(work, "mlserver.log")
    os.makedirs(folder)
    session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    sys.path.insert(0, interop)
    import onnx_metadata
    port = free_port()
    json.dump({"host": "127.0.0.1", "http_port": port, "grpc_port": free_port(), "metrics_port": free_port(),
               "parallel_workers": 0, "debug": False}, open(os.path.join(folder, "settings.json"), "w"))
    json.dump({"name": name, "implementation": "mlserver_onnx.CloudHalf", "parameters": {"uri": model},
               "inputs": onnx_metadata.tensors(session.get_inputs()), "outputs": onnx_metadata.tensors(session.get_outputs())},
              open(os.path.join(folder, "model-settings.json"), "w"))
    environment = dict(os.environ, PYTHONPATH=interop)
    process = subprocess.Popen([executable, "start", folder], stdout=open(log, "w"), stderr=subprocess.STDOUT, env=environment)
    wait_ready(f"http://127.0.0.1:{port}/v2/models/{name}/ready", process, log)
    return process, f"http://127.0.0.1:{port}"


def start_cleave(work, cloud, name):
    process = subprocess.Popen([cleave, "serve", cloud, "--port", "0", "--name", name, "--threads", "2", "--log-level", "warning"],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    match = re.search(r"http://127\.0\.0\.1:(\d+)", process.stdout.readline())
    if not match:
        stop(process)
        raise RuntimeError("cleave serve did not start")
    return process, f"http://127.0.0.1:{match.group(1)}"


def remote(edge, url, image, out, *extra):
    """`cleave run EDGE --remote URL --remote-model model --json`: (exit, report or None, stderr, outputs or None)."""
    result = subprocess.run([cleave, "run", edge, "--remote", url, "--remote-model", "model", "--input", image,
                             "--output-dir", out, "--json", *extra], capture_output=True, text=True, timeout=300)
    report = json.loads(result.stdout) if result.returncode == 0 else None
    outputs = {o["name"]: np.load(o["file"]) for o in report["outputs"]} if report else None
    return result.returncode, report, result.stderr, outputs


def check_server(label, start, work, edge, cloud, image, expected, ort_expected, wire, has_pair, binary_works):
    try:
        process, url = start()
    except Exception as error:  # a server that cannot start is a failed check, not a crash
        check(f"{label}: starts", False, str(error))
        return
    try:
        check(f"{label}: starts", True, url)
        out = os.path.join(work, f"{label}-out")
        status, report, stderr, outputs = remote(edge, url, image, out)
        if not check(f"{label}: cleave run --remote exits 0", status == 0, "" if status == 0 else stderr.strip()):
            return
        got = report["remote"]["wire"]
        check(f"{label}: negotiated {wire} tensor data", got == wire, f"used {got}")
        output = outputs["output"]
        error = float(np.max(np.abs(output.astype(np.float64) - expected)))
        check(f"{label}: outputs equal the local pair's to float tolerance", output.dtype == np.float32 and output.shape == expected.shape
              and np.allclose(output, expected, rtol=1e-5, atol=1e-6), f"max abs difference {error:.3g}")
        if ort_expected is not None:
            check(f"{label}: outputs equal ONNX Runtime's bit for bit (the {wire} round trip is exact)",
                  np.array_equal(output, ort_expected), f"max abs difference {float(np.max(np.abs(output - ort_expected))):.3g}")
        warned = "does not declare parameters.pair_id" in stderr
        check(f"{label}: pair id " + ("checked, no warning" if has_pair else "missing: one warning on stderr"),
              report["remote"]["pair_checked"] == has_pair and warned != has_pair and len(stderr.strip().splitlines()) == (0 if has_pair else 1),
              stderr.strip())
        if not has_pair:
            strict = os.path.join(work, f"{label}-strict")
            status, _, stderr, _ = remote(edge, url, image, strict, "--strict-pair")
            check(f"{label}: --strict-pair refuses it (exit 65, one line, no outputs)",
                  status == 65 and len(stderr.strip().splitlines()) == 1 and "--strict-pair" in stderr and not os.path.exists(strict),
                  f"exit {status}: {stderr.strip()}")
            int8 = os.path.join(work, f"{label}-int8")
            status, _, stderr, _ = remote(edge, url, image, int8, "--boundary-codec", "int8")
            check(f"{label}: --boundary-codec int8 is refused before sending (exit 65)",
                  status == 65 and "cannot dequantise" in stderr and not os.path.exists(int8), f"exit {status}: {stderr.strip()}")
        if wire == "json":
            forced = os.path.join(work, f"{label}-binary")
            status, report, stderr, forced_outputs = remote(edge, url, image, forced, "--remote-wire", "binary")
            if binary_works:
                check(f"{label}: --remote-wire binary works too, with the same outputs",
                      status == 0 and report["remote"]["wire"] == "binary" and np.array_equal(forced_outputs["output"], output),
                      "" if status == 0 else f"exit {status}: {stderr.strip()}")
            else:
                lines = [l for l in stderr.strip().splitlines() if "warning" not in l]
                check(f"{label}: --remote-wire binary fails cleanly (the server has no binary extension)",
                      status in (65, 74) and len(lines) == 1 and url in lines[0] and not os.path.exists(forced),
                      f"exit {status}: {stderr.strip()}")
    finally:
        stop(process)


# MARK: fake servers

class Fake(http.server.BaseHTTPRequestHandler):
    """Answers /<scenario>/v2/... like a v2 server whose model takes the boundary,
    except for the one thing the scenario breaks."""
    protocol_version = "HTTP/1.1"
    metadata = {}   # set by main: the cloud half's metadata, with its pair id
    extensions = []

    def log_message(self, *args):
        pass

    def send(self, status, body, content_type="application/json", headers=(), length=None):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        self.answer()

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.answer()

    def answer(self):
        scenario, _, rest = self.path.lstrip("/").partition("/")
        if scenario == "redirect":
            return self.send(307, b"", headers=[("Location", self.path)])
        if rest == "v2":
            binary = ["binary_tensor_data"] if scenario == "truncated" else []
            return self.send(200, json.dumps({"name": "fake", "version": "0", "extensions": binary}).encode())
        if rest == "v2/models/model":
            if scenario == "badmeta":
                return self.send(200, b'{"name": "model", "inputs": [')
            return self.send(200, json.dumps(Fake.metadata).encode())
        if rest != "v2/models/model/infer":
            return self.send(404, b'{"error": "no such endpoint"}')
        def outputs(datatype="FP32", shape=(1, 10)):
            return json.dumps({"model_name": "model", "outputs": [
                {"name": "output", "datatype": datatype, "shape": list(shape), "data": [0.5] * int(np.prod(shape))}]}).encode()
        if scenario == "badjson":
            return self.send(200, b'{"model_name": "model", "outputs": [{"name": "output", ')
        if scenario == "notjson":
            return self.send(200, b"<html><body>hello</body></html>", content_type="text/html")
        if scenario == "datatype":
            return self.send(200, outputs(datatype="FP64"))
        if scenario == "shape":
            return self.send(200, outputs(shape=(1, 5)))
        if scenario == "truncated":
            header = json.dumps({"model_name": "model", "outputs": [
                {"name": "output", "datatype": "FP32", "shape": [1, 10], "parameters": {"binary_data_size": 40}}]}).encode()
            return self.send(200, header + b"\0" * 12, content_type="application/octet-stream",
                             headers=[("Inference-Header-Content-Length", str(len(header)))])
        if scenario == "cutoff":
            self.send(200, b'{"model_name": ', length=1000)
            self.close_connection = True
            return
        if scenario == "servererror":
            return self.send(500, b"<html>\n<h1>Internal Server Error</h1>\n<p>the model crashed</p>\n</html>\n", content_type="text/html")
        return self.send(404, b'{"error": "unknown scenario"}')


# (scenario, exit code, what the one stderr line must contain)
BAD_SERVERS = [
    ("badmeta", 65, "malformed model metadata"),
    ("badjson", 65, "malformed inference response"),
    ("notjson", 65, "malformed inference response"),
    ("datatype", 65, "is FP64 but the model's metadata declares FP32"),
    ("shape", 65, "has shape [1, 5] but the model's metadata declares [1, 10]"),
    ("truncated", 65, "truncated"),
    ("redirect", 74, "redirect"),
    ("cutoff", 74, ""),
    ("servererror", 74, "HTTP 500"),
]


def check_bad_servers(work, edge, cloud, image):
    manifest = json.load(open(os.path.join(cloud, "manifest.json")))
    def specs(list_):
        return [{"name": s["name"], "datatype": "FP32", "shape": s["shape"]} for s in list_]
    Fake.metadata = {"name": "model", "versions": ["1"], "platform": "fake", "inputs": specs(manifest["inputs"]),
                     "outputs": specs(manifest["outputs"]), "parameters": {"pair_id": manifest["pair_id"]}}
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Fake)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        for scenario, code, fragment in BAD_SERVERS:
            url = f"http://127.0.0.1:{server.server_address[1]}/{scenario}"
            out = os.path.join(work, f"bad-{scenario}")
            result = subprocess.run([cleave, "run", edge, "--remote", url, "--remote-model", "model", "--input", image,
                                     "--output-dir", out], capture_output=True, text=True, timeout=120)
            lines = result.stderr.strip().splitlines()
            check(f"bad server '{scenario}': exit {code}, one line naming the server and the problem, no outputs",
                  result.returncode == code and len(lines) == 1 and url in lines[0] and fragment in lines[0] and not os.path.exists(out),
                  f"exit {result.returncode}: {result.stderr.strip()}")
    finally:
        server.shutdown()


# MARK: export-kserve

def check_export_kserve(work, cloud):
    out = os.path.join(work, "kserve-export")
    uri = "s3://models/cleave/pytorch_style"
    try:
        report = json.loads(run("export-kserve", cloud, "-o", out, "--storage-uri", uri, "--name", "resnet_tail", "--json"))
    except RuntimeError as error:
        check("export-kserve runs", False, str(error))
        return
    service = json.load(open(os.path.join(out, "inferenceservice.json")))
    schema = json.load(open(os.path.join(root, "tools", "kserve", "inferenceservice-v1beta1.schema.json")))
    try:
        jsonschema.validate(service, schema)
        check("export-kserve: the InferenceService validates against KServe's CRD schema", True)
    except jsonschema.ValidationError as error:
        check("export-kserve: the InferenceService validates against KServe's CRD schema", False, error.message)
    model = service["spec"]["predictor"]["model"]
    check("export-kserve: Triton runtime, protocol v2, the storage URI",
          model.get("runtime") == "kserve-tritonserver" and model.get("protocolVersion") == "v2" and model.get("storageUri") == uri, str(model))
    check("export-kserve: the repository holds the model Triton will serve",
          os.path.exists(os.path.join(out, "repository", "resnet_tail", "config.pbtxt"))
          and report.get("model") == "resnet_tail", str(report))
    # The schema test must be able to fail: an unknown field and a bad quantity are rejected.
    broken = json.loads(json.dumps(service))
    broken["spec"]["predictor"]["model"]["resources"]["limits"]["memory"] = "lots"
    broken["spec"]["predictor"]["model"]["protocol"] = "v2"
    errors = sorted(e.message for e in jsonschema.Draft7Validator(schema).iter_errors(broken))
    check("export-kserve: the schema rejects a bad quantity and an unknown field", len(errors) == 2, "; ".join(errors))


def triton_installation():
    """(tritonserver, its lib folder, site-packages) from .venv-triton (PyTriton's wheel), or a full install on PATH."""
    site = os.path.join(root, ".venv-triton", "lib", "python3.11", "site-packages")
    binary = os.path.join(site, "pytriton", "tritonserver", "bin", "tritonserver")
    if os.path.exists(binary):
        return binary, os.path.join(site, "nvidia_pytriton.libs"), site
    on_path = shutil.which("tritonserver")
    return (on_path, None, None) if on_path else (None, None, None)


def check_triton(work, cloud, edge, image, expected, ort_expected):
    """Triton's own server: PyTriton's build has only the Python backend, so
    export-triton's config is served through tools/interop/triton_onnx/model.py
    (backend "python", ONNX Runtime inside), and the unchanged export is loaded
    beside it to show Triton parses its config.pbtxt up to the missing backend."""
    binary, libs, site = triton_installation()
    if binary is None:
        check("triton: tritonserver is installed (.venv-triton, from tools/setup.sh)", False, "not found")
        return
    repository = os.path.join(work, "triton")
    run("export-triton", cloud, "-o", repository, "--name", "model")
    run("export-triton", cloud, "-o", repository, "--name", "export_check")
    backends = os.path.join(work, "triton-backends")
    if site is not None:
        # The Python backend as PyTriton lays it out, plus NumPy where the stub's
        # isolated interpreter (which ignores PYTHONPATH) finds its utilities.
        packaged = os.path.join(site, "pytriton", "tritonserver")
        python = os.path.join(backends, "python")
        os.makedirs(python)
        for name in ("libtriton_python.so", "triton_python_backend_utils.py"):
            shutil.copy(os.path.join(packaged, "backends", "python", name), python)
        shutil.copy(os.path.join(packaged, "python_backend_stubs", "3.11", "triton_python_backend_stub"), python)
        for name in ("numpy", "numpy.libs"):
            os.symlink(os.path.join(site, name), os.path.join(python, name))
        folder = os.path.join(repository, "model")
        config = open(os.path.join(folder, "config.pbtxt")).read()
        config = config.replace('platform: "onnxruntime_onnx"\n', "").replace('backend: "onnxruntime"', 'backend: "python"')
        config = config.replace('default_model_filename: "model.onnx"\n', "")
        config += (f'parameters: {{ key: "onnx_model" value: {{ string_value: "{os.path.join(folder, "1", "model.onnx", "model.onnx")}" }} }}\n'
                   f'parameters: {{ key: "site_packages" value: {{ string_value: "{site}" }} }}\n')
        open(os.path.join(folder, "config.pbtxt"), "w").write(config)
        shutil.copy(os.path.join(interop, "triton_onnx", "model.py"), os.path.join(folder, "1", "model.py"))
    port, log = free_port(), os.path.join(work, "triton.log")
    command = [binary, f"--model-repository={repository}", f"--http-port={port}", "--http-address=127.0.0.1",
               "--allow-grpc=false", "--allow-metrics=false", "--exit-on-error=false"]
    if site is not None:
        command.append(f"--backend-directory={backends}")
    environment = dict(os.environ, LD_LIBRARY_PATH=libs) if libs else None
    process = subprocess.Popen(command, stdout=open(log, "w"), stderr=subprocess.STDOUT, env=environment)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_ready(f"{url}/v2/models/model/ready", process, log)
        server = json.load(urllib.request.urlopen(f"{url}/v2", timeout=5))
        check("triton: starts", True, f"{server.get('name')} {server.get('version')} at {url}")
        status, report, stderr, outputs = remote(edge, url, image, os.path.join(work, "triton-out"))
        if check("triton: cleave run --remote exits 0", status == 0, "" if status == 0 else stderr.strip()):
            output = outputs["output"]
            check("triton: negotiated binary tensor data", report["remote"]["wire"] == "binary", report["remote"]["wire"])
            check("triton: outputs equal the local pair's to float tolerance", np.allclose(output, expected, rtol=1e-5, atol=1e-6),
                  f"max abs difference {float(np.max(np.abs(output.astype(np.float64) - expected))):.3g}")
            check("triton: outputs equal ONNX Runtime's bit for bit", np.array_equal(output, ort_expected))
            check("triton: pair id missing: one warning", not report["remote"]["pair_checked"]
                  and "does not declare parameters.pair_id" in stderr)
        if site is not None:
            request = urllib.request.Request(f"{url}/v2/repository/index", data=b"{}", method="POST")
            index = {m["name"]: m for m in json.load(urllib.request.urlopen(request, timeout=5))}
            reason = index.get("export_check", {}).get("reason", "")
            check("triton: parses the unchanged export's config.pbtxt; only the ONNX Runtime backend is missing",
                  "unable to find backend library for backend 'onnxruntime'" in reason, reason)
    except RuntimeError as error:
        check("triton: starts", False, str(error))
    finally:
        stop(process)


def main():
    work = tempfile.mkdtemp(prefix="cleave-interop-servers-")
    try:
        pair = os.path.join(work, "pair")
        run("cut", os.path.join(fixture, "model.onnx"), "--at", cut_at, "-o", pair)
        edge, cloud = os.path.join(pair, "edge"), os.path.join(pair, "cloud")
        image = f"input={os.path.join(fixture, 'inputs', 'input.npy')}"
        reference = json.loads(run("run", edge, cloud, "--input", image, "--output-dir", os.path.join(work, "ref"), "--json"))
        expected = np.load(reference["outputs"][0]["file"])
        # ONNX Runtime here, on the boundary the edge half computes: what a server running ORT must return exactly.
        boundary_run = json.loads(run("run", edge, "--input", image, "--output-dir", os.path.join(work, "boundary"), "--json"))
        boundary = {o["name"]: np.load(o["file"]) for o in boundary_run["outputs"]}
        model = os.path.join(cloud, "model.onnx")
        session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
        (ort_expected,) = session.run(["output"], {i.name: boundary[i.name] for i in session.get_inputs()})

        check_server("kserve", lambda: start_kserve(work, model, "model"), work, edge, cloud, image, expected, ort_expected,
                     wire="json", has_pair=False, binary_works=True)
        check_server("mlserver", lambda: start_mlserver(work, model, "model"), work, edge, cloud, image, expected, ort_expected,
                     wire="json", has_pair=False, binary_works=False)
        check_server("cleave serve", lambda: start_cleave(work, cloud, "model"), work, edge, cloud, image, expected, None,
                     wire="binary", has_pair=True, binary_works=True)
        check("cleave serve: outputs equal the local pair's bit for bit",
              np.array_equal(np.load(os.path.join(work, "cleave serve-out", "output.npy")), expected))
        check_bad_servers(work, edge, cloud, image)
        check_export_kserve(work, cloud)
        check_triton(work, cloud, edge, image, expected, ort_expected)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"interop: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

"""Interop with NVIDIA's Triton client: `cleave serve` speaks KServe v2 as Triton does.

Usage: .venv/bin/python tools/interop_triton.py CLEAVE_BINARY

Cuts fixtures/pytorch_style inside its residual block (a two-tensor boundary),
starts `cleave serve` on the cloud half on a free loopback port, and uses
tritonclient.http, unchanged, to check liveness and readiness, read the server
and model metadata and the model config, and run inference with binary data
(tritonclient's default), with JSON data, and with gzip and deflate request
bodies: every output must equal `cleave run EDGE CLOUD` bit for bit. Bad
requests must come back as errors that name the problem while the server stays
up. Then `cleave export-triton` writes a model repository; its config.pbtxt is
parsed with the ModelConfig protobuf that tritonclient ships and checked field
by field, and ONNX Runtime runs the exported model from the repository layout
(model.onnx/model.onnx beside weights.bin). The server is always stopped.
Prints 'N passed, N failed' and exits non-zero on a failure.
"""
import importlib.util, json, os, re, shutil, subprocess, sys, tempfile

import numpy as np
import onnxruntime as ort
import tritonclient
import tritonclient.http as httpclient
from google.protobuf import text_format
from tritonclient.utils import InferenceServerException

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
cleave = os.path.abspath(sys.argv[1])
fixture = os.path.join(root, "fixtures", "pytorch_style")
cut_at = "/layer1/layer1.0/relu/Relu_output_0"
passed = failed = 0


def check(what, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1
        print(f"FAIL {what}" + (f": {detail}" if detail else ""))


def model_config_pb2():
    """tritonclient's ModelConfig protobuf module. It needs only protobuf, but
    importing it through tritonclient.grpc requires the grpc extra, which the
    http extra does not bring: load the generated module from its file."""
    path = os.path.join(os.path.dirname(tritonclient.__file__), "grpc", "model_config_pb2.py")
    spec = importlib.util.spec_from_file_location("model_config_pb2", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run(*args):
    result = subprocess.run([cleave, *args], capture_output=True, text=True, timeout=300)
    if result.returncode != 0:
        raise RuntimeError(f"cleave {' '.join(args)} exited {result.returncode}: {result.stderr.strip()}")
    return result.stdout


def start_server(bundle, *extra):
    """Starts `cleave serve` on a free port; returns the process and its port."""
    process = subprocess.Popen([cleave, "serve", bundle, "--port", "0", "--log-level", "warning", *extra],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = process.stdout.readline()
    match = re.search(r"http://127\.0\.0\.1:(\d+)", line)
    if not match:
        process.kill()
        raise RuntimeError(f"cleave serve did not start: {line!r} {process.stderr.read()}")
    return process, int(match.group(1))


def stop_server(process):
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def main():
    work = tempfile.mkdtemp(prefix="cleave-interop-")
    try:
        check_all(work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


def check_all(work):
    pair = os.path.join(work, "pair")
    run("cut", os.path.join(fixture, "model.onnx"), "--at", cut_at, "-o", pair)
    edge, cloud = os.path.join(pair, "edge"), os.path.join(pair, "cloud")
    manifest = json.load(open(os.path.join(cloud, "manifest.json")))
    image = f"input={os.path.join(fixture, 'inputs', 'input.npy')}"

    # The references: the edge half's boundary tensors and the pair's output.
    report = json.loads(run("run", edge, "--input", image, "--output-dir", os.path.join(work, "edge_out"), "--json"))
    boundary = {o["name"]: np.load(o["file"]) for o in report["outputs"]}
    reference = json.loads(run("run", edge, cloud, "--input", image, "--output-dir", os.path.join(work, "ref"), "--json"))
    expected = np.load(reference["outputs"][0]["file"])

    process, port = start_server(cloud, "--threads", "2")
    try:
        client = httpclient.InferenceServerClient(url=f"127.0.0.1:{port}")
        check("server live", client.is_server_live())
        check("server ready", client.is_server_ready())
        check("model ready", client.is_model_ready("model"))
        check("server metadata", client.get_server_metadata().get("name") == "cleave")

        metadata = client.get_model_metadata("model")
        served = [(i["name"], i["datatype"], i["shape"]) for i in metadata["inputs"]]
        declared = [(i["name"], "FP32", i["shape"]) for i in manifest["inputs"]]
        check("metadata inputs", served == declared, f"{served} != {declared}")
        check("metadata outputs", [(o["name"], o["shape"]) for o in metadata["outputs"]] == [("output", [1, 10])], str(metadata["outputs"]))

        config = client.get_model_config("model")
        check("config max_batch_size", config.get("max_batch_size") == 0, str(config))
        check("config inputs", [(i["name"], i["data_type"], i["dims"]) for i in config["input"]]
              == [(i["name"], "TYPE_FP32", i["shape"]) for i in manifest["inputs"]], str(config["input"]))

        def infer(binary, compression=None):
            inputs = []
            for spec in manifest["inputs"]:
                tensor = httpclient.InferInput(spec["name"], spec["shape"], "FP32")
                tensor.set_data_from_numpy(boundary[spec["name"]], binary_data=binary)
                inputs.append(tensor)
            outputs = [httpclient.InferRequestedOutput("output", binary_data=binary)]
            return client.infer("model", inputs, outputs=outputs, request_id="interop",
                                request_compression_algorithm=compression)

        for binary, compression in [(True, None), (False, None), (True, "gzip"), (True, "deflate"), (False, "gzip")]:
            what = f"infer binary={binary} compression={compression}"
            try:
                result = infer(binary, compression)
                output = result.as_numpy("output")
                check(what, output is not None and output.dtype == np.float32 and np.array_equal(output, expected),
                      f"{output} != {expected}")
                check(what + " id", result.get_response().get("id") == "interop")
            except InferenceServerException as error:
                check(what, False, str(error))

        # Default outputs (none requested): tritonclient asks for all in binary.
        inputs = []
        for spec in manifest["inputs"]:
            tensor = httpclient.InferInput(spec["name"], spec["shape"], "FP32")
            tensor.set_data_from_numpy(boundary[spec["name"]])
            inputs.append(tensor)
        check("infer with default outputs", np.array_equal(client.infer("model", inputs).as_numpy("output"), expected))

        # Caller mistakes come back as errors that say what was wrong; the server stays up.
        def expect_error(what, call, fragment):
            try:
                call()
                check(what, False, "no error")
            except InferenceServerException as error:
                check(what, fragment in str(error), str(error))
            check(f"live after {what}", client.is_server_live())

        expect_error("unknown model", lambda: client.infer("nope", inputs), "unknown model 'nope'")
        bad = httpclient.InferInput(manifest["inputs"][0]["name"], [1, int(np.prod(manifest["inputs"][0]["shape"]))], "FP32")
        bad.set_data_from_numpy(boundary[manifest["inputs"][0]["name"]].reshape(1, -1))
        expect_error("wrong shape", lambda: client.infer("model", [bad] + inputs[1:]), "does not match the model's")
        wrong = httpclient.InferInput(manifest["inputs"][0]["name"], manifest["inputs"][0]["shape"], "FP64")
        wrong.set_data_from_numpy(boundary[manifest["inputs"][0]["name"]].astype(np.float64))
        expect_error("wrong datatype", lambda: client.infer("model", [wrong] + inputs[1:]), "datatype FP64")
        expect_error("missing input", lambda: client.infer("model", inputs[:1]), "is missing")
    finally:
        stop_server(process)
    check("server exits 0 on SIGTERM", process.returncode == 0, f"exit {process.returncode}")

    # export-triton: a repository Triton loads; config.pbtxt parsed with Triton's own protobuf.
    repository = os.path.join(work, "repo")
    run("export-triton", cloud, "-o", repository)
    folder = os.path.join(repository, "model")
    layout = sorted(os.path.relpath(os.path.join(d, f), folder) for d, _, files in os.walk(folder) for f in files)
    check("repository layout", layout == ["1/model.onnx/model.onnx", "1/model.onnx/weights.bin", "config.pbtxt"], str(layout))
    pb2 = model_config_pb2()
    config = text_format.Parse(open(os.path.join(folder, "config.pbtxt")).read(), pb2.ModelConfig())
    check("config.pbtxt name", config.name == "model", config.name)
    check("config.pbtxt platform", config.platform == "onnxruntime_onnx" and config.backend == "onnxruntime")
    check("config.pbtxt max_batch_size", config.max_batch_size == 0 and "max_batch_size: 0" in open(os.path.join(folder, "config.pbtxt")).read())
    for kind, fields, specs in [("input", config.input, manifest["inputs"]), ("output", config.output, manifest["outputs"])]:
        got = [(t.name, pb2.DataType.Name(t.data_type), list(t.dims)) for t in fields]
        want = [(s["name"], "TYPE_FP32", s["shape"]) for s in specs]
        check(f"config.pbtxt {kind}s", got == want, f"{got} != {want}")
    # ONNX Runtime runs the exported model from where Triton would load it.
    session = ort.InferenceSession(os.path.join(folder, "1", "model.onnx", "model.onnx"))
    (ort_output,) = session.run(None, {s["name"]: boundary[s["name"]] for s in manifest["inputs"]})
    error = np.linalg.norm(ort_output.astype(np.float64) - expected) / np.linalg.norm(expected.astype(np.float64))
    check("exported model under ONNX Runtime", error <= 1e-5, f"relative L2 {error}")


if __name__ == "__main__":
    sys.exit(main())

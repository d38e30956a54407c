"""The national portal for the benchmark (bench/run, scenario `portal`):
accepts every sync record with the portal's success answer and counts them.
Usage: portal_sink.py PORT; GET /count answers the records received."""
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

received = 0


class Portal(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes: without this, Nagle's
    # algorithm and the client's delayed ACK hold each answer 40 ms.
    disable_nagle_algorithm = True

    def do_POST(self):
        global received
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        received += 1
        self.answer(b'{"error_code":"0","message":"OK"}')

    def do_GET(self):
        self.answer(str(received).encode())

    def answer(self, body):
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Portal).serve_forever()

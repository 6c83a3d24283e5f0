"""A webhook receiver for the example's `notify:` channel: appends the JSON
body of every POST to notifications.jsonl beside this file's directory and
answers 204. Stops with tools/stop.sh.

    python3 examples/release/tools/receiver.py &
"""

import http.server
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
LOG = os.path.join(HERE, "..", "notifications.jsonl")
PORT = 18309


class Receiver(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8", "replace")
        with open(LOG, "a", encoding="utf-8") as log:
            log.write(body.replace("\n", " ") + "\n")
        self.send_response(204)
        self.end_headers()

    def log_message(self, format, *args):
        pass


def main():
    with open(os.path.join(HERE, "..", ".receiver.pid"), "w", encoding="utf-8") as pid:
        pid.write(str(os.getpid()))
    server = http.server.HTTPServer(("127.0.0.1", PORT), Receiver)
    print(f"notifications go to {os.path.normpath(LOG)}", file=sys.stderr)
    server.serve_forever()


if __name__ == "__main__":
    main()

"""Says what app.json gave it: its greeting, a generated secret's length, its add-on."""

import http.server
import os


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        env = os.environ
        body = (
            f"{env['GREETING']}; admin {env['ADMIN_EMAIL']}; secret {len(env['SECRET_TOKEN'])} "
            f"chars; cache {'yes' if env.get('CACHE_URL') else 'no'}"
        ).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


http.server.ThreadingHTTPServer(("", int(os.environ["PORT"])), Handler).serve_forever()

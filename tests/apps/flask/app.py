import os

from flask import Flask

app = Flask(__name__)


@app.route("/")
def index() -> str:
    return f"Hello from {os.environ.get('GREETING', 'Flask')}"

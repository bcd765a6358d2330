"""An app written for Heroku's marketplace: JawsDB Maria, CloudAMQP, MemCachier, Mailgun.

Each add-on is reached only through the config vars its provider sets, with the
client libraries such apps use (PyMySQL, pika, bmemcached, smtplib).
"""

import json
import os
import smtplib
import urllib.parse
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import bmemcached
import pika
import pymysql


def mysql(query):
    url = urllib.parse.urlsplit(os.environ["JAWSDB_MARIA_URL"])
    conn = pymysql.connect(
        host=url.hostname,
        port=url.port or 3306,
        user=urllib.parse.unquote(url.username),
        password=urllib.parse.unquote(url.password),
        database=url.path.lstrip("/"),
        autocommit=True,
    )
    with conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE IF NOT EXISTS notes (body VARCHAR(200))")
        if "put" in query:
            cur.execute("INSERT INTO notes VALUES (%s)", [query["put"]])
        cur.execute("SELECT body FROM notes ORDER BY body")
        return {"notes": ",".join(row[0] for row in cur.fetchall())}


def amqp(query):
    connection = pika.BlockingConnection(pika.URLParameters(os.environ["CLOUDAMQP_URL"]))
    try:
        channel = connection.channel()
        channel.queue_declare(queue="jobs", durable=True)
        if "put" in query:
            channel.basic_publish(
                exchange="",
                routing_key="jobs",
                body=query["put"].encode(),
                properties=pika.BasicProperties(delivery_mode=2),
            )
            return {"published": query["put"]}
        method, _, body = channel.basic_get(queue="jobs", auto_ack=True)
        return {"got": body.decode() if method else None}
    finally:
        connection.close()


def cache(query):
    client = bmemcached.Client(
        os.environ["MEMCACHIER_SERVERS"].split(","),
        os.environ["MEMCACHIER_USERNAME"],
        os.environ["MEMCACHIER_PASSWORD"],
    )
    try:
        if "put" in query:
            client.set("greeting", query["put"])
        return {"greeting": client.get("greeting")}
    finally:
        client.disconnect_all()


def mail(query):
    message = EmailMessage()
    message["From"] = "App <app@example.com>"
    message["To"] = query.get("to", "someone@example.org")
    message["Subject"] = query.get("subject", "Hello from the app")
    message.set_content(query.get("body", "Sent through the add-on."))
    with smtplib.SMTP(os.environ["MAILGUN_SMTP_SERVER"], int(os.environ["MAILGUN_SMTP_PORT"])) as s:
        s.starttls()
        s.login(os.environ["MAILGUN_SMTP_LOGIN"], os.environ["MAILGUN_SMTP_PASSWORD"])
        try:
            s.send_message(message)
        except smtplib.SMTPException as exc:
            return {"refused": str(exc)}
    return {"sent": message["To"]}


ROUTES = {"/mysql": mysql, "/amqp": amqp, "/cache": cache, "/mail": mail}


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        route = ROUTES.get(url.path)
        try:
            body, status = (route(query), 200) if route else ({"dyno": os.environ["DYNO"]}, 200)
        except Exception as exc:
            body, status = {"error": f"{type(exc).__name__}: {exc}"}, 500
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format, *args):
        print(f"{self.command} {self.path}", flush=True)


ThreadingHTTPServer(("0.0.0.0", int(os.environ["PORT"])), Handler).serve_forever()  # noqa: S104

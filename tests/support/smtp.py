"""An SMTP server on 127.0.0.1 for tests: it accepts every message and keeps it (no TLS, no
authentication), speaking just enough SMTP for `smtplib`."""

from __future__ import annotations

import socketserver
import threading
from email import message_from_bytes
from email.message import Message


class Inbox:
    """Keeps each message it is sent (`received`); `got` is set at the first."""

    def __init__(self) -> None:
        self.received: list[Message] = []
        self.got = threading.Event()
        inbox = self

        class Handler(socketserver.StreamRequestHandler):
            def reply(self, line: str) -> None:
                self.wfile.write((line + "\r\n").encode())

            def handle(self) -> None:
                self.reply("220 test SMTP")
                while True:
                    line = self.rfile.readline()
                    if not line:
                        return
                    verb = line.decode(errors="replace").strip().split(" ")[0].upper()
                    if verb in ("EHLO", "HELO"):
                        self.reply("250 test")
                    elif verb in ("MAIL", "RCPT", "RSET", "NOOP"):
                        self.reply("250 ok")
                    elif verb == "DATA":
                        self.reply("354 go on")
                        data = b""
                        while (chunk := self.rfile.readline()) not in (b".\r\n", b""):
                            data += chunk[1:] if chunk.startswith(b"..") else chunk
                        inbox.received.append(message_from_bytes(data))
                        inbox.got.set()
                        self.reply("250 kept")
                    elif verb == "QUIT":
                        self.reply("221 bye")
                        return
                    else:
                        self.reply("502 not here")

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = int(self.server.server_address[1])
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

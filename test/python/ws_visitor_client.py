"""A relay visitor on the plain WebSocket, with Debian's websocket-client (python3-websocket).

Usage: ws_visitor_client.py WS_URL
WS_URL is wss://host/api/v1/ws/widget?token=<visitor_jwt>. Reads the welcome, sends a bad frame
(expects an error frame, connection still open), a ping (pong), a message (ack), then waits for
an agent's msg frame. Prints one JSON line per frame received; exits 0 when the flow completed.
"""

import json
import sys

import websocket

url = sys.argv[1]
# websocket-client sends `Origin: http://<host>` unless told not to; a native client has no origin
# (the session's origin is then checked alone), and a foreign one is refused with 4403.
ws = websocket.create_connection(url, timeout=20, suppress_origin=True)


def log(step, **data):
    sys.stdout.write(json.dumps({"step": step, **data}) + "\n")
    sys.stdout.flush()


def recv(kind):
    while True:
        frame = json.loads(ws.recv())
        log("frame", frame=frame)
        if frame["type"] == kind:
            return frame


welcome = recv("welcome")
ws.send(json.dumps({"type": "msg", "content": "no client_msg_id"}))
error = recv("error")
ws.send(json.dumps({"type": "ping"}))
recv("pong")
ws.send(json.dumps({"type": "msg", "client_msg_id": "py-1", "content": "Hello from Python"}))
ack = recv("ack")
reply = recv("msg")
ws.close()
ok = (
    error["code"] == "request/invalid"
    and ack["client_msg_id"] == "py-1"
    and reply["role"] == "agent"
    and welcome["conversation_id"]
)
log("finished", ok=bool(ok))
sys.exit(0 if ok else 1)

"""An end user speaking Socket.IO natively, as a mobile app would (python3-socketio from Debian).

Usage: enduser_client.py URL CONVERSATION_ID EXTERNAL_ID [USER_HASH]
USER_HASH is what the app's backend computed for its user, hex(hmac_sha256(tenant_secret,
external_id)); a random visitor id (v_...) needs none. It goes with join_conversation: once the
socket has proved the conversation, its later events need nothing.
Joins the conversation, sends a message, waits for its echo and for an agent's reply, and prints
one JSON line per step on stdout. Exits 0 when the flow completed, 1 otherwise.
"""

import json
import sys
import threading

import socketio

url, conversation_id, external_id = sys.argv[1:4]
user_hash = sys.argv[4] if len(sys.argv) > 4 else None
done = threading.Event()
received = []
errors = []


_out = threading.Lock()


def log(step, **data):
    # Events arrive on the client's threads: one whole line at a time, never two interleaved.
    with _out:
        sys.stdout.write(json.dumps({"step": step, **data}) + "\n")
        sys.stdout.flush()


sio = socketio.Client(reconnection=False)


@sio.on("message_received")
def on_message(msg):
    received.append(msg)
    log("message_received", message=msg)
    if msg.get("sender_type") == "agent":
        done.set()


@sio.on("error")
def on_error(data):
    errors.append(data)
    log("error", data=data)


sio.connect(url, transports=["websocket"])
proof = {"conversation_id": conversation_id, "external_id": external_id}
if user_hash:
    proof["user_hash"] = user_hash
joined = sio.call("join_conversation", proof, timeout=10)
log("joined", ack=joined)

# A bad payload: the server answers with `error` and stores nothing.
bad = sio.call(
    "send_message",
    {"conversation_id": conversation_id, "content": "", "sender_type": "end_user", "external_id": external_id},
    timeout=10,
)
log("bad_ack", ack=bad)

sent = sio.call(
    "send_message",
    {
        "conversation_id": conversation_id,
        "content": "Hello from Python",
        "content_type": "text",
        "sender_type": "end_user",
        "external_id": external_id,
    },
    timeout=10,
)
log("sent", ack=sent)

ok = done.wait(20)
sio.disconnect()
log("finished", ok=ok, errors=len(errors))
sys.exit(0 if ok and joined.get("ok") and sent.get("ok") and not bad.get("ok") else 1)

#!/usr/bin/python3
"""A small stand-in for the Kubernetes API server, for socklb's e2e tests.

    fake_kube_apiserver.py --listen IP:PORT --cert F --key F --fixtures DIR [--start-rv N]

Serves over HTTPS (its certificate is the test's) what the k8s: source asks
for, the way kube-apiserver v1.28 answers it:

  GET /api/v1/namespaces/NS/services/NAME                 one Service (404 Status)
  GET /api/v1[/namespaces/NS]/services[?fieldSelector=metadata.name=NAME]
  GET /apis/discovery.k8s.io/v1[/namespaces/NS]/endpointslices
      [?labelSelector=kubernetes.io/service-name=NAME]
  ...&limit=N[&continue=TOKEN]                              a list in pages
  ...&watch=1&resourceVersion=RV&allowWatchBookmarks=true&timeoutSeconds=N
  GET /api/v1/nodes/NAME                                    a Node (the test puts them)
  GET /apis/socklb.io/v1alpha1/socklbnodes[/NAME]            socklb's CRD (cluster-scoped):
  POST  .../socklbnodes            create: 201, or 409 AlreadyExists
  PUT   .../socklbnodes/NAME       replace: 409 Conflict unless metadata.resourceVersion
                                   is the stored one (or absent); 404 if there is none
  PATCH .../socklbnodes/NAME       merge patch (application/merge-patch+json), with the
                                   same check when it carries metadata.resourceVersion

Lists carry the store's resourceVersion (a paged list: the one of its first
page, in every page; a continue token older than the last compaction gets
410 Expired, as from etcd); a watch (chunked, one JSON event per
line) replays the history after its resourceVersion (or synthetic ADDED
events without one), then streams what the test changes, and ends cleanly
after timeoutSeconds.  A watch from a resourceVersion older than the last
compaction gets an ERROR 410 event.  Bookmarks and error Status bodies are
taken from the recorded fixtures.

The test drives it with one JSON command per line on stdin; every reply,
request and event sent is one JSON line on stdout ("kind": "reply",
"request", "sent", "tls-error"; "ready" first):

  {"op": "put", "resource": "services", "object": {...}}    ADDED or MODIFIED
  {"op": "bulk", "resource": "services", "objects": [...]}  many puts, one reply
  {"op": "restore", "resource": ..., "objects": [...]}  objects as a restored
                                store has them: no event, no history
  {"op": "delete", "resource": ..., "namespace": ..., "name": ...}
  {"op": "bookmark"}            a BOOKMARK to every open watch
  {"op": "expire"}              compact: ERROR 410 to every open watch
  {"op": "watch_status", "status": 410, "count": 1, "resource": "endpointslices"}
                                the next watches (of that resource) get that HTTP status
  {"op": "drop"}                cut every open watch mid-line (no clean end)
  {"op": "freeze"}              every open watch goes silent, past its timeout
  {"op": "tokens", "tokens": ["t1"]}   accepted bearer tokens (null: any)
  {"op": "rbac", "namespaces": ["default"]}   requests outside them get 403 (null: all)
  {"op": "fail", "status": 503, "count": 2, "resource": "endpointslices"}
                                the next requests (of that resource) fail so
  {"op": "outage", "on": true}  the API is down: every open watch is cut and every
                                request answered 503 until {"op": "outage", "on": false}

Every request is logged with its method ("method": "GET", "PUT", ...), and
every write once more ("kind": "write") with the object's name and spec, so
a test counts the writes of each agent and sees what they said.
"""

import argparse
import copy
import json
import queue
import socket
import ssl
import struct
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

MAX_FROZEN_SECONDS = 120  # a frozen watch is released after this at the latest
OUT_LOCK = threading.Lock()


def emit(obj):
    obj.setdefault("t", time.time())
    with OUT_LOCK:
        sys.stdout.write(json.dumps(obj, separators=(",", ":")) + "\n")
        sys.stdout.flush()


KINDS = {
    "services": ("Service", "v1", "ServiceList"),
    "endpointslices": ("EndpointSlice", "discovery.k8s.io/v1", "EndpointSliceList"),
    "nodes": ("Node", "v1", "NodeList"),
    "socklbnodes": ("SocklbNode", "socklb.io/v1alpha1", "SocklbNodeList"),
}
CLUSTER_SCOPED = {"nodes", "socklbnodes"}
WRITABLE = {"socklbnodes"}  # what clients may create, replace and patch


def merge_patch(target, patch):
    """RFC 7386: objects merge, null deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = copy.deepcopy(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge_patch(out.get(k), v)
    return out


def status_body(fixtures, code, message=None, reason=None):
    names = {401: "status-401-unauthorized.json", 404: "status-404-not-found.json",
             410: "status-410-expired.json"}
    if code in names:
        body = json.loads((fixtures / names[code]).read_text())
    else:
        body = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": "", "reason": "InternalError", "code": code}
    if message:
        body["message"] = message
    if reason:
        body["reason"] = reason
    return body


class Watch:
    def __init__(self, resource, ns, name, service_name):
        self.resource, self.ns, self.name, self.service_name = resource, ns, name, service_name
        self.q = queue.Queue()
        self.frozen = False

    def matches(self, resource, obj):
        md = obj.get("metadata", {})
        return (resource == self.resource
                and (self.ns is None or md.get("namespace") == self.ns)
                and (self.name is None or md.get("name") == self.name)
                and (self.service_name is None
                     or md.get("labels", {}).get("kubernetes.io/service-name")
                     == self.service_name))


class Store:
    def __init__(self, fixtures, start_rv, compacted_rv=None):
        self.fixtures = fixtures
        self.lock = threading.Lock()
        self.rv = start_rv
        # a watch from below this is too old
        self.compacted = start_rv if compacted_rv is None else compacted_rv
        self.objects = {}  # (resource, ns, name) -> object
        self.history = []  # (rv, type, resource, object)
        self.watches = set()
        self.tokens = None
        self.fail = []  # (status, resource or None) for the next requests
        self.watch_status = []  # statuses for the next watches
        self.rbac = None  # namespaces the client may read; None: every one
        self.outage = False  # every request answered 503
        self.uids = 0
        bookmark_line = [line for line in (fixtures / "watch-endpointslices.jsonl").read_text()
                         .splitlines() if '"BOOKMARK"' in line][0]
        self.bookmark_template = json.loads(bookmark_line)

    def _broadcast(self, resource, etype, obj):
        n = 0
        for w in list(self.watches):
            if not w.frozen and w.matches(resource, obj):
                w.q.put(("event", etype, obj))
                n += 1
        return n

    @staticmethod
    def _prepare(resource, obj):
        obj = copy.deepcopy(obj)
        kind, api_version, _ = KINDS[resource]
        obj["kind"], obj["apiVersion"] = kind, api_version
        md = obj.setdefault("metadata", {})
        if resource in CLUSTER_SCOPED:
            md.pop("namespace", None)
        else:
            md.setdefault("namespace", "default")
        return obj, md

    @staticmethod
    def key(resource, md):
        return (resource, md.get("namespace", ""), md["name"])

    def _store(self, resource, obj, md):
        """Stores obj with the next resourceVersion (lock held); its event type."""
        self.rv += 1
        md["resourceVersion"] = str(self.rv)
        key = self.key(resource, md)
        old = self.objects.get(key)
        etype = "MODIFIED" if old else "ADDED"
        if old:  # an update keeps what only the server sets
            for k in ("uid", "creationTimestamp"):
                if k in old["metadata"]:
                    md[k] = old["metadata"][k]
        else:
            self.uids += 1
            md.setdefault("uid", f"00000000-0000-4000-8000-{self.uids:012d}")
            md.setdefault("creationTimestamp",
                          time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
        self.objects[key] = obj
        self.history.append((self.rv, etype, resource, obj))
        return etype, self._broadcast(resource, etype, obj)

    def put(self, resource, obj):
        obj, md = self._prepare(resource, obj)
        with self.lock:
            etype, n = self._store(resource, obj, md)
            return {"rv": str(self.rv), "type": etype, "watches": n}

    def write(self, method, resource, name, body):
        """A client's POST (name None), PUT or PATCH: (HTTP status, object or Status)."""
        with self.lock:
            old = self.objects.get((resource, "", name)) if name else None
            if method == "PATCH" and old is not None:
                body = merge_patch(old, body)
            obj, md = self._prepare(resource, body)
            if name is None:
                name = md.get("name")
                if (resource, "", name) in self.objects:
                    return 409, ("AlreadyExists", f'{resource} "{name}" already exists')
            elif md.get("name", name) != name:
                return 400, ("BadRequest", "the name of the object does not match the URL")
            elif old is None:
                return 404, ("NotFound", f'{resource} "{name}" not found')
            want = (body.get("metadata") or {}).get("resourceVersion")
            if old is not None and want and want != old["metadata"]["resourceVersion"]:
                return 409, ("Conflict", f'Operation cannot be fulfilled on {resource} '
                             f'"{name}": the object has been modified; please apply your '
                             "changes to the latest version and try again")
            self._store(resource, obj, md)
            return (201 if old is None else 200), copy.deepcopy(obj)

    def restore(self, resource, objs):
        with self.lock:
            for obj in objs:
                obj = copy.deepcopy(obj)
                obj["kind"], obj["apiVersion"] = KINDS[resource][:2]
                md = obj.setdefault("metadata", {})
                md.setdefault("namespace", "default")
                md.setdefault("resourceVersion", str(self.rv))
                self.objects[(resource, md["namespace"], md["name"])] = obj
            return {"count": len(objs)}

    def delete(self, resource, ns, name):
        with self.lock:
            obj = self.objects.pop((resource, ns, name), None)
            if obj is None:
                return {"error": "not found"}
            self.rv += 1
            obj = copy.deepcopy(obj)
            obj["metadata"]["resourceVersion"] = str(self.rv)
            self.history.append((self.rv, "DELETED", resource, obj))
            return {"rv": str(self.rv), "watches": self._broadcast(resource, "DELETED", obj)}

    def to_all(self, item):
        with self.lock:
            live = [w for w in self.watches if not w.frozen]
            for w in live:
                w.q.put(item)
            return len(live)

    def expire(self):
        with self.lock:
            self.compacted = self.rv
            for w in self.watches:
                w.q.put(("gone",))
            return {"compacted": str(self.rv), "watches": len(self.watches)}

    def freeze(self):
        with self.lock:
            for w in self.watches:
                w.frozen = True
                w.q.put(("freeze",))
            return {"watches": len(self.watches)}

    def list(self, resource, ns, name, service_name, limit=0, cont=None):
        """(items, rv, continue token or "") -- None if the token expired."""
        probe = Watch(resource, ns, name, service_name)
        start, rv = 0, None
        if cont:
            start, rv = (int(x) for x in cont.split("-"))
        with self.lock:
            if rv is not None and rv < self.compacted:
                return None
            rv = self.rv if rv is None else rv
            items = [o for (r, _, _), o in sorted(self.objects.items()) if probe.matches(r, o)]
            end = start + limit if limit > 0 else len(items)
            page = [copy.deepcopy(o) for o in items[start:end]]
            return page, str(rv), f"{end}-{rv}" if end < len(items) else ""

    def start_watch(self, w, rv):
        """Registers w; returns the events it must send first (or None: 410)."""
        with self.lock:
            if rv is not None and rv != "" and rv != "0" and int(rv) < self.compacted:
                return None
            if rv in (None, "", "0"):
                first = [("ADDED", o) for (r, _, _), o in sorted(self.objects.items())
                         if w.matches(r, o)]
            else:
                first = [(t, o) for (v, t, r, o) in self.history
                         if v > int(rv) and w.matches(r, o)]
            self.watches.add(w)
            return first

    def stop_watch(self, w):
        with self.lock:
            self.watches.discard(w)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-kube-apiserver/1.28"

    def log_message(self, fmt, *args):
        pass

    @property
    def store(self):
        return self.server.store

    def _send_json(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _log(self, status, route, query, token):
        emit({"kind": "request", "method": self.command, "path": route, "query": query,
              "token": token, "status": status, "watch": query.get("watch") in ("1", "true")})

    def _refused(self, url, query, token, route):
        """Answers what refuses any request (outage, token, injected failure, RBAC);
        True if it did."""
        store = self.store
        if store.outage:
            self._log(503, url.path, query, token)
            self._send_json(503, status_body(store.fixtures, 503, "the API is down (test)",
                                             "ServiceUnavailable"))
            return True
        if store.tokens is not None and token not in store.tokens:
            self._log(401, url.path, query, token)
            self._send_json(401, status_body(store.fixtures, 401))
            return True
        with store.lock:
            failing = next((x for x in store.fail
                            if x[1] is None or (route and x[1] == route[0])), None)
            if failing:
                store.fail.remove(failing)
        if failing:
            self._log(failing[0], url.path, query, token)
            self._send_json(failing[0], status_body(store.fixtures, failing[0],
                                                    "injected failure"))
            return True
        return False

    def _request(self):
        url = urllib.parse.urlsplit(self.path)
        query = {k: v[-1] for k, v in urllib.parse.parse_qs(url.query).items()}
        auth = self.headers.get("Authorization", "")
        token = auth[7:] if auth.startswith("Bearer ") else None
        return url, query, token

    def _write(self):
        url, query, token = self._request()
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        route = self._route(url.path)
        if self._refused(url, query, token, route):
            return
        if route is not None and self.store.rbac is not None and route[1] not in self.store.rbac:
            self._log(403, url.path, query, token)
            return self._send_json(403, status_body(
                self.store.fixtures, 403, f'{route[0]} is forbidden: User "system:serviceaccount:'
                f'socklb-system:socklb" cannot {self.command.lower()} resource "{route[0]}"',
                "Forbidden"))
        if route is None or route[0] not in WRITABLE or (self.command == "POST") != (
                route[2] is None):
            self._log(405, url.path, query, token)
            return self._send_json(405, status_body(self.store.fixtures, 405,
                                                    "the server does not allow this method",
                                                    "MethodNotAllowed"))
        try:
            body = json.loads(raw)
            assert isinstance(body, dict)
        except (ValueError, AssertionError):
            self._log(400, url.path, query, token)
            return self._send_json(400, status_body(self.store.fixtures, 400, "bad JSON",
                                                    "BadRequest"))
        try:
            code, out = self.store.write(self.command, route[0], route[2], body)
        except Exception as e:  # a bug of this server: say so, do not drop the connection
            code, out = 500, ("InternalError", f"fake API server: {type(e).__name__}: {e}")
        emit({"kind": "write", "method": self.command, "path": url.path, "status": code,
              "name": route[2] or (body.get("metadata") or {}).get("name"),
              "spec": body.get("spec")})
        self._log(code, url.path, query, token)
        if code >= 400:
            out = status_body(self.store.fixtures, code, out[1], out[0])
        self._send_json(code, out)

    do_POST = do_PUT = do_PATCH = _write

    def do_GET(self):
        url, query, token = self._request()
        store = self.store
        route = self._route(url.path)
        if self._refused(url, query, token, route):
            return
        if route is not None and store.rbac is not None and route[1] not in store.rbac:
            self._log(403, url.path, query, token)
            where = f'in the namespace "{route[1]}"' if route[1] else "at the cluster scope"
            return self._send_json(403, status_body(
                store.fixtures, 403, f'{route[0]} is forbidden: User "system:serviceaccount:'
                f'socklb-system:socklb" cannot list resource "{route[0]}" {where}',
                "Forbidden"))
        if route is None:
            self._log(404, url.path, query, token)
            return self._send_json(404, status_body(store.fixtures, 404, "the server could "
                                                    "not find the requested resource"))
        resource, ns, name = route
        if name is not None:
            return self._get_one(resource, ns, name, url.path, query, token)
        field_name = label_name = None
        fs = query.get("fieldSelector", "")
        if fs.startswith("metadata.name="):
            field_name = fs.split("=", 1)[1]
        ls = query.get("labelSelector", "")
        if ls.startswith("kubernetes.io/service-name="):
            label_name = ls.split("=", 1)[1]
        if query.get("watch") in ("1", "true"):
            return self._watch(Watch(resource, ns, field_name, label_name), url.path, query,
                               token)
        listed = store.list(resource, ns, field_name, label_name, int(query.get("limit", "0")),
                            query.get("continue"))
        if listed is None:
            self._log(410, url.path, query, token)
            return self._send_json(410, status_body(store.fixtures, 410,
                                                    "The provided continue parameter is too old"))
        items, rv, cont = listed
        for it in items:
            it.pop("kind", None)
            it.pop("apiVersion", None)
        _, api_version, list_kind = KINDS[resource]
        self._log(200, url.path, query, token)
        meta = {"resourceVersion": rv}
        if cont:
            meta["continue"] = cont
        self._send_json(200, {"kind": list_kind, "apiVersion": api_version, "metadata": meta,
                              "items": items})

    @staticmethod
    def _route(path):
        """(resource, namespace or None, name or None), or None: no such path."""
        parts = [p for p in path.split("/") if p]
        if parts[:2] == ["api", "v1"]:
            group, rest = "v1", parts[2:]
        elif parts[:1] == ["apis"] and len(parts) >= 3:
            group, rest = f"{parts[1]}/{parts[2]}", parts[3:]
        else:
            return None
        ns = None
        if len(rest) >= 2 and rest[0] == "namespaces":
            ns, rest = rest[1], rest[2:]
        if not rest or rest[0] not in KINDS or len(rest) > 2:
            return None
        if KINDS[rest[0]][1] != group or (ns is not None and rest[0] in CLUSTER_SCOPED):
            return None
        return rest[0], ns, rest[1] if len(rest) == 2 else None

    def _get_one(self, resource, ns, name, path, query, token):
        with self.store.lock:
            obj = copy.deepcopy(self.store.objects.get((resource, ns or "", name)))
        if obj is None:
            self._log(404, path, query, token)
            return self._send_json(404, status_body(
                self.store.fixtures, 404, f'{resource} "{name}" not found'))
        self._log(200, path, query, token)
        self._send_json(200, obj)

    def _chunk(self, data):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def _event(self, etype, obj):
        line = json.dumps({"type": etype, "object": obj}, separators=(",", ":")).encode() + b"\n"
        start = time.time()
        self._chunk(line)
        md = obj.get("metadata", {})
        emit({"kind": "sent", "type": etype, "resource": obj.get("kind"),
              "name": md.get("name"), "rv": md.get("resourceVersion"), "t_start": start})

    def _watch(self, w, path, query, token):
        store = self.store
        with store.lock:
            forced = next((x for x in store.watch_status if x[1] in (None, w.resource)), None)
            if forced:
                store.watch_status.remove(forced)
                forced = forced[0]
        if forced:
            self._log(forced, path, query, token)
            return self._send_json(forced, status_body(store.fixtures, forced))
        first = store.start_watch(w, query.get("resourceVersion"))
        self._log(200, path, query, token)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache, private")
        self.end_headers()
        self.wfile.flush()
        try:
            if first is None:
                gone = status_body(store.fixtures, 410, "too old resource version: %s (%d)"
                                   % (query.get("resourceVersion"), store.compacted))
                self._event("ERROR", gone)
                self._chunk(b"")
                return
            for etype, obj in first:
                self._event(etype, obj)
            self._stream(w, float(query.get("timeoutSeconds", "1800")))
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
            self.close_connection = True
        finally:
            store.stop_watch(w)

    def _stream(self, w, timeout):
        store = self.store
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if w.frozen:
                left = MAX_FROZEN_SECONDS
            if left <= 0:
                self._chunk(b"")  # the end of a clean, timed-out watch
                return
            try:
                item = w.q.get(timeout=left)
            except queue.Empty:
                if w.frozen:
                    self.close_connection = True
                    return
                continue
            if item[0] == "event" and not w.frozen:
                self._event(item[1], item[2])
            elif item[0] == "bookmark" and not w.frozen:
                bm = copy.deepcopy(store.bookmark_template["object"])
                if w.resource == "services":  # a Service's zero value, not a slice's
                    bm = {"kind": "Service", "apiVersion": "v1", "metadata": bm["metadata"],
                          "spec": {}, "status": {"loadBalancer": {}}}
                with store.lock:
                    bm["metadata"]["resourceVersion"] = str(store.rv)
                self._event("BOOKMARK", bm)
            elif item[0] == "gone":
                gone = status_body(store.fixtures, 410, "too old resource version: (%d)"
                                   % store.compacted)
                self._event("ERROR", gone)
                self._chunk(b"")
                return
            elif item[0] == "drop":
                # Half an event, then the connection dies (no TLS close_notify, RST).
                self._chunk(b'{"type":"MODIFIED","object":{"kind":"EndpointSl')
                self.close_connection = True
                raw = self.connection
                try:
                    raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                except OSError:
                    pass
                self.server.abort(raw)
                return


class TLSServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128  # every watch of an agent connects at once

    def __init__(self, addr, ctx, store):
        self.ctx, self.store = ctx, store
        super().__init__(addr, Handler)

    def finish_request(self, request, client_address):
        request.settimeout(None)
        emit({"kind": "conn", "peer": "%s:%d" % client_address[:2]})
        try:
            tls = self.ctx.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as e:
            emit({"kind": "tls-error", "peer": client_address[0], "error": str(e)})
            return
        try:
            self.RequestHandlerClass(tls, client_address, self)
        except (ssl.SSLError, OSError):
            pass
        finally:
            try:
                tls.close()
            except OSError:
                pass

    def abort(self, tls):
        """Closes the connection under the TLS layer: the peer sees it die."""
        try:
            fd = tls.detach()
            socket.socket(fileno=fd).close()
        except (OSError, ValueError):
            try:
                tls.close()
            except OSError:
                pass


def run_command(store, cmd):
    op = cmd.get("op")
    if op == "put":
        return store.put(cmd["resource"], cmd["object"])
    if op == "bulk":
        n = 0
        for obj in cmd["objects"]:
            store.put(cmd["resource"], obj)
            n += 1
        with store.lock:
            return {"count": n, "rv": str(store.rv)}
    if op == "restore":
        return store.restore(cmd["resource"], cmd["objects"])
    if op == "delete":
        return store.delete(cmd["resource"], cmd.get("namespace", "default"), cmd["name"])
    if op == "bookmark":
        with store.lock:
            rv = str(store.rv)
        return {"watches": store.to_all(("bookmark",)), "rv": rv}
    if op == "expire":
        return store.expire()
    if op == "watch_status":
        with store.lock:
            store.watch_status += [(int(cmd["status"]), cmd.get("resource"))] * int(
                cmd.get("count", 1))
        return {}
    if op == "drop":
        return {"watches": store.to_all(("drop",))}
    if op == "freeze":
        return store.freeze()
    if op == "tokens":
        store.tokens = set(cmd["tokens"]) if cmd.get("tokens") is not None else None
        return {}
    if op == "rbac":
        store.rbac = set(cmd["namespaces"]) if cmd.get("namespaces") is not None else None
        return {}
    if op == "fail":
        with store.lock:
            store.fail += [(int(cmd["status"]), cmd.get("resource"))] * int(cmd.get("count", 1))
        return {}
    if op == "outage":
        store.outage = bool(cmd.get("on", True))
        return {"outage": store.outage,
                "watches": store.to_all(("drop",)) if store.outage else 0}
    if op == "watches":
        with store.lock:
            return {"watches": len(store.watches), "rv": str(store.rv)}
    return {"error": f"unknown op {op!r}"}


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--listen", required=True, help="IP:PORT")
    p.add_argument("--cert", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--fixtures", required=True)
    p.add_argument("--start-rv", type=int, default=1000)
    p.add_argument("--compacted-rv", type=int, default=None,
                   help="watches from below this get 410 (default: --start-rv)")
    p.add_argument("--tokens", default=None, help="comma-separated accepted tokens")
    args = p.parse_args()
    host, _, port = args.listen.rpartition(":")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.cert, args.key)
    store = Store(Path(args.fixtures), args.start_rv, args.compacted_rv)
    if args.tokens:
        store.tokens = set(args.tokens.split(","))
    server = TLSServer((host, int(port)), ctx, store)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    emit({"kind": "ready", "listen": args.listen})
    for line in sys.stdin:  # EOF (the test ended) stops the server
        if not line.strip():
            continue
        try:
            cmd = json.loads(line)
            reply = run_command(store, cmd)
        except (ValueError, KeyError, TypeError) as e:
            cmd, reply = {}, {"error": f"{type(e).__name__}: {e}"}
        emit({"kind": "reply", "op": cmd.get("op"), **reply})
    server.shutdown()


if __name__ == "__main__":
    main()

"""The gevent worker every gevent deployable runs (the gateway): gunicorn's, with admission
control's door (shop/web/admission.py: Door) in its keep-alive loop.

While the event loop lags over the limit, the next request on a kept-alive connection is
answered with a canned 503 before gunicorn parses it: parsing, routing and answering a
request in Python costs a large part of serving it, so a gateway that said no the normal way
would spend most of its CPU saying no, and every request would wait for it. The loop below is
gunicorn's plain HTTP/1.1 keep-alive loop (gunicorn.workers.base_async.AsyncWorker.handle)
with that one check added; TLS, HTTP/2 and keep-alive off take gunicorn's own way."""
from gevent.socket import wait_read
from gunicorn import http, util
from gunicorn.workers import ggevent

from shop.web import admission


class GeventWorker(ggevent.GeventWorker):
    def handle(self, listener, client, addr):
        door = admission.GEVENT_DOOR
        if door is None or self.cfg.is_ssl or not self.cfg.keepalive:
            return super().handle(listener, client, addr)
        client.setblocking(1)
        parser = http.get_parser(self.cfg, client, addr)
        listener_name = listener.getsockname()
        req = None
        try:
            while True:
                if door.closed() and not parser.unreader.buf.getvalue():
                    wait_read(client.fileno(), timeout=self.cfg.keepalive)
                    if door.turn_away(client):
                        continue
                req = None
                with self.timeout_ctx():
                    req = next(parser)
                if not req:
                    break
                self.handle_request(listener_name, req, client, addr)
        except (http.errors.NoMoreData, StopIteration):
            pass
        except TimeoutError:     # wait_read: the kept-alive connection stayed idle
            pass
        except OSError as e:
            if e.errno not in (32, 104, 107):   # EPIPE, ECONNRESET, ENOTCONN: the client went away
                self.log.exception("Socket error processing request.")
        except Exception as e:
            self.handle_error(req, client, addr, e)
        finally:
            util.close(client)

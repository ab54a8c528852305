"""gunicorn's logger, told to do nothing at all for access lines when they are switched off.

With a logging dict config, gunicorn builds every access line (a dict of a dozen fields) even
when no one reads it; that was a measurable part of a request's CPU (make bench)."""
from gunicorn.glogging import Logger


class ShopLogger(Logger):
    def access(self, resp, req, environ, request_time):
        if not self.cfg.accesslog:
            return
        super().access(resp, req, environ, request_time)

"""Where each deployment answers, and whether it is up."""
from shop.web import health as healthz

DEFAULT_URLS = {"monolith": "http://127.0.0.1:8000", "microservices": "http://127.0.0.1:8080"}
START_COMMANDS = {"monolith": "make run-monolith", "microservices": "make run-micro"}
# How a sentence names each deployment: "the monolith is", "the microservices are".
NAMES = {"monolith": ("The monolith", "is"), "microservices": ("The microservices", "are")}


def health(url: str, timeout: float = 2.0) -> dict | None:
    """The /healthz answer, or None if nothing (or not the shop) answers there."""
    body = healthz.health(url, timeout)
    return body if body is not None and "architecture" in body else None


def not_running_message(target: str, url: str, found: dict | None) -> str | None:
    """A plain sentence for the user if the chosen target is not what answers at url. It is
    shown as plain text in the web UI, so it quotes commands with quotes, not Markdown."""
    name, verb = NAMES.get(target, (f"The {target}", "is"))
    if found is None:
        return (f"{name} {verb} not running at {url}. Start {'it' if verb == 'is' else 'them'} in another "
                f"terminal with \"{START_COMMANDS[target]}\" (or \"make demo\" to start both), then press "
                "Start again.")
    if found.get("architecture") != target:
        return (f"{url} answers, but it is the {found.get('architecture')}, not the {target}. "
                f"Check the URLs (--monolith-url / --microservices-url).")
    return None

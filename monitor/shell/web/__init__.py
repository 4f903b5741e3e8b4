"""The worker's web face: the built-in status page (``/``, ``/api/status``) and the sentiment gauges on
``/metrics``. :func:`install_web` mounts both on the Faust worker's web server.
"""

from monitor.shell.web.install import install_web
from monitor.shell.web.sentiment_gauges import SentimentGauges
from monitor.shell.web.status_page import StatusPage

__all__ = ["SentimentGauges", "StatusPage", "install_web"]

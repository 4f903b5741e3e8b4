"""``bearwatch dashboards push | build | check``: Grafana dashboards as code.

``push`` provisions a running Grafana through its HTTP API (grafana-client); ``build`` regenerates the JSON files
from the builder; ``check`` validates the files against Grafana's dashboard model. docker-compose does not need
``push``: its Grafana reads the same files through file provisioning (deploy/grafana/provisioning/).
"""

from __future__ import annotations

from typing import Annotated

import typer

from monitor.ground.cli_support import ConfigOption, console, fail, settings_or_exit

dashboards_app = typer.Typer(help="Grafana dashboards as code: push to Grafana, rebuild or check the JSON files.",
                             no_args_is_help=True)
DEFAULT_PROMETHEUS_URL = "http://prometheus:9090"


@dashboards_app.command()
def push(
    grafana_url: Annotated[str | None, typer.Option("--grafana-url", help="Grafana base URL (default: "
                                                    "BEARWATCH_GRAFANA_URL).", show_default=False)] = None,
    prometheus_url: Annotated[str | None, typer.Option(
        "--prometheus-url", help="URL Grafana uses to reach Prometheus (default: BEARWATCH_PROMETHEUS_URL, else "
        f"{DEFAULT_PROMETHEUS_URL}).", show_default=False)] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would change; write nothing.")] = False,
    config: ConfigOption = None,
) -> None:
    """Create or update the Prometheus datasource, the Bearwatch folder and the dashboards in Grafana.

    Idempotent: a second push changes nothing and says so. The API token comes from BEARWATCH_GRAFANA_TOKEN
    (a Grafana service-account token with the Editor role, or Admin to manage the datasource).

    Example: BEARWATCH_GRAFANA_TOKEN=glsa_... bearwatch dashboards push --grafana-url http://localhost:3000
    """
    from grafana_client import GrafanaApi
    from grafana_client.client import GrafanaClientError, GrafanaException, GrafanaUnauthorizedError
    from niquests.exceptions import RequestException  # grafana-client's HTTP library

    from dashboards.catalog import load_all
    from dashboards.provisioning import Provisioner, ProvisioningError

    settings = settings_or_exit(config)
    url = grafana_url or settings.grafana_url
    if not url:
        fail("no Grafana URL: pass --grafana-url http://host:3000 or set BEARWATCH_GRAFANA_URL")
    if not url.startswith(("http://", "https://")):
        fail(f"--grafana-url {url!r} must start with http:// or https://")
    token = settings.grafana_token
    api = GrafanaApi.from_url(url.rstrip("/"), credential=token or None, timeout=10.0)
    provisioner = Provisioner(api, prometheus_url or settings.prometheus_url or DEFAULT_PROMETHEUS_URL,
                              dry_run=dry_run)
    try:
        changes = provisioner.push(load_all())
    except ProvisioningError as exc:
        fail(str(exc))
    except GrafanaUnauthorizedError:
        fail(f"Grafana at {url} refused the credentials (401): set BEARWATCH_GRAFANA_TOKEN to a service-account "
             "token (Administration → Service accounts)")
    except GrafanaClientError as exc:
        fail(f"Grafana at {url} rejected a request ({exc.status_code}): {exc}; a 403 means the token's role is "
             "too low (Admin is needed for the datasource)")
    except (GrafanaException, RequestException) as exc:
        fail(f"cannot reach Grafana at {url} ({type(exc).__name__}): is it running and is the URL right?")
    for change in changes:
        colour = "dim" if change.action == "unchanged" else "green"
        detail = f" ({change.detail})" if change.detail else ""
        console.print(f"[{colour}]{change.action:>12}[/] {change.kind:<10} {change.name}{detail}", highlight=False)
    changed = sum(change.action != "unchanged" for change in changes)
    verb = "would change" if dry_run else "changed"
    console.print(f"{changed} of {len(changes)} objects {verb} in {url}" if changed else
                  f"Grafana at {url} is up to date ({len(changes)} objects unchanged)")


@dashboards_app.command()
def build() -> None:
    """Regenerate dashboards/*.json from the builder modules (run after editing dashboards/*.py).

    Example: bearwatch dashboards build && git diff dashboards/
    """
    from dashboards.catalog import write_all

    changed = write_all()
    for path in changed:
        console.print(f"wrote {path}")
    if not changed:
        console.print("dashboards/*.json already match the builder")


@dashboards_app.command()
def check() -> None:
    """Validate dashboards/*.json against Grafana's dashboard model (panels, queries, datasource uid, grid).

    Example: bearwatch dashboards check
    """
    from dashboards.catalog import DASHBOARD_DIR, load_all
    from dashboards.model import check_dashboard

    problems = [f"{name}: {problem}" for name, doc in load_all(DASHBOARD_DIR).items()
                for problem in check_dashboard(doc)]
    if problems:
        fail("; ".join(problems[:10]) + (f" (and {len(problems) - 10} more)" if len(problems) > 10 else ""))
    console.print("dashboards OK")


def register(app: typer.Typer) -> None:
    app.add_typer(dashboards_app, name="dashboards")

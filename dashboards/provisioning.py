"""Push the Prometheus datasource, the Bearwatch folder and the dashboards to a running Grafana, idempotently.

Why read before writing: Grafana bumps a dashboard's version on every save, fills its history and notifies
watchers, so a push that re-sends unchanged dashboards is noise. Each object is fetched first and written only
when what Bearwatch manages differs, so a second push reports everything ``unchanged`` and sends no write. Only
the fields Bearwatch owns are compared (a datasource's ``isDefault`` or a user's extra settings are left alone).

Example::

    api = GrafanaApi.from_url("http://grafana:3000", credential=token)
    for change in Provisioner(api, "http://prometheus:9090").push(catalog.load_all()):
        print(change)
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from grafana_client import GrafanaApi
from grafana_client.client import GrafanaClientError

from dashboards.builder import DATASOURCE_UID
from dashboards.model import check_dashboard
from monitor.ground.errors import BearwatchError

DATASOURCE_NAME = "Bearwatch Prometheus"
FOLDER_UID = "bearwatch"
FOLDER_TITLE = "Bearwatch"
SCRAPE_INTERVAL = "15s"  # deploy/prometheus/prometheus.yml: lets Grafana size $__rate_interval correctly
PUSH_MESSAGE = "bearwatch dashboards push"
_VOLATILE = ("id", "version")  # set by Grafana on every save, never by us


class ProvisioningError(RuntimeError, BearwatchError):
    """A dashboard is invalid or Grafana refused a request; ``str()`` names the object and the fix."""


@dataclass(frozen=True)
class Change:
    kind: str  # datasource | folder | dashboard
    name: str
    action: str  # created | updated | unchanged (or "would create"/"would update" in a dry run)
    detail: str = ""


def desired_datasource(prometheus_url: str) -> dict[str, Any]:
    return {
        "uid": DATASOURCE_UID, "name": DATASOURCE_NAME, "type": "prometheus", "access": "proxy",
        "url": prometheus_url, "jsonData": {"httpMethod": "POST", "timeInterval": SCRAPE_INTERVAL},
    }


def _missing(exc: GrafanaClientError) -> bool:
    return exc.status_code == 404


def _differences(current: dict[str, Any], desired: dict[str, Any]) -> list[str]:
    """Names of the desired fields whose current value differs (nested dicts compared key by key)."""
    changed = []
    for key, value in desired.items():
        if isinstance(value, dict) and isinstance(current.get(key), dict):
            changed += [f"{key}.{inner}" for inner in _differences(current[key], value)]
        elif current.get(key) != value:
            changed.append(key)
    return changed


def comparable(dashboard: dict[str, Any]) -> dict[str, Any]:
    """The dashboard without what Grafana sets itself (id, version)."""
    return {key: value for key, value in dashboard.items() if key not in _VOLATILE}


class Provisioner:
    """Creates or updates Bearwatch's datasource, folder and dashboards in one Grafana organisation."""

    def __init__(self, api: GrafanaApi, prometheus_url: str, *, dry_run: bool = False) -> None:
        self.api = api
        self.prometheus_url = prometheus_url
        self.dry_run = dry_run

    def _act(self, action: str) -> str:
        return f"would {action.removesuffix('d')}" if self.dry_run else action

    def push(self, dashboards: dict[str, dict[str, Any]]) -> list[Change]:
        """Validate every dashboard first (nothing is written if one is broken), then provision in order."""
        for name, doc in dashboards.items():
            problems = check_dashboard(doc)
            if problems:
                raise ProvisioningError(f"{name} is not a valid Grafana dashboard: {'; '.join(problems[:5])}")
        changes = [self.datasource(), self.folder()]
        changes += [self.dashboard(doc) for doc in dashboards.values()]
        return changes

    def datasource(self) -> Change:
        desired = desired_datasource(self.prometheus_url)
        try:
            current = self.api.datasource.get_datasource_by_uid(DATASOURCE_UID)
        except GrafanaClientError as exc:
            if not _missing(exc):
                raise
            if not self.dry_run:
                self.api.datasource.create_datasource({**desired, "isDefault": False})
            return Change("datasource", DATASOURCE_NAME, self._act("created"), self.prometheus_url)
        fields = _differences(current, desired)
        if not fields:
            return Change("datasource", DATASOURCE_NAME, "unchanged")
        if not self.dry_run:
            merged = {**current, **desired, "jsonData": {**(current.get("jsonData") or {}), **desired["jsonData"]}}
            self.api.datasource.update_datasource_by_uid(DATASOURCE_UID, merged)
        return Change("datasource", DATASOURCE_NAME, self._act("updated"), ", ".join(fields))

    def folder(self) -> Change:
        try:
            current = self.api.folder.get_folder(FOLDER_UID)
        except GrafanaClientError as exc:
            if not _missing(exc):
                raise
            if not self.dry_run:
                self.api.folder.create_folder(FOLDER_TITLE, uid=FOLDER_UID)
            return Change("folder", FOLDER_TITLE, self._act("created"), f"uid {FOLDER_UID}")
        if current.get("title") == FOLDER_TITLE:
            return Change("folder", FOLDER_TITLE, "unchanged")
        if not self.dry_run:
            self.api.folder.update_folder(FOLDER_UID, title=FOLDER_TITLE, overwrite=True)
        return Change("folder", FOLDER_TITLE, self._act("updated"), f"title was {current.get('title')!r}")

    def dashboard(self, doc: dict[str, Any]) -> Change:
        title, uid = doc["title"], doc["uid"]
        try:
            current = self.api.dashboard.get_dashboard(uid)
        except GrafanaClientError as exc:
            if not _missing(exc):
                raise
            self._save(doc, overwrite=False)
            return Change("dashboard", title, self._act("created"), f"uid {uid}")
        reasons = []
        if (current.get("meta") or {}).get("folderUid") != FOLDER_UID:
            reasons.append("moved to the Bearwatch folder")
        fields = sorted(k for k in set(comparable(doc)) | set(comparable(current.get("dashboard") or {}))
                        if comparable(doc).get(k) != comparable(current.get("dashboard") or {}).get(k))
        if fields:
            reasons.append("changed: " + ", ".join(fields))
        if not reasons:
            return Change("dashboard", title, "unchanged")
        self._save(doc, overwrite=True)
        return Change("dashboard", title, self._act("updated"), "; ".join(reasons))

    def _save(self, doc: dict[str, Any], overwrite: bool) -> None:
        if self.dry_run:
            return
        body = copy.deepcopy(doc)
        body["id"] = None  # Grafana matches by uid; a stale numeric id would be rejected
        self.api.dashboard.update_dashboard(
            {"dashboard": body, "folderUid": FOLDER_UID, "overwrite": overwrite, "message": PUSH_MESSAGE})

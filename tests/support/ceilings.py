"""One readiness ceiling for every test that waits for something to happen (a server up, a story in a topic).

Tests wait for a signal, not for a time: the ceiling only bounds a hang, so it is generous (minutes) and a loaded
machine (two cores shared by several jobs) cannot make a test fail by being slow. Speed is measured in bench/.
A failing wait names what it awaited and for how long.
"""

from __future__ import annotations

READY_CEILING_S = 180.0

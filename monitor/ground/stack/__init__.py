"""The embedded default stack: a Tansu Kafka-protocol broker and a Valkey server on loopback, owned by us."""

from monitor.ground.stack.embedded import EmbeddedStack, StackError

__all__ = ["EmbeddedStack", "StackError"]

"""The gRPC edge bridge: authenticate, validate, map and hand readings to Kafka."""

"""Local infrastructure civicloop starts itself: processes, the Kafka broker, a ClickHouse
server, and the stack (``civicloop up / down / status``)."""

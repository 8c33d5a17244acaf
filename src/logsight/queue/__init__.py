"""RabbitMQ (Amazon MQ) topology, messages and the confirmed publisher."""

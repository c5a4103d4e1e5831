-- The seed's three statements, over the hourly-revenue example's orders loaded as Avro
-- records of its OrderPlaced schema (`--load-schema`), through the schema registry.
CREATE STREAM orders_stream (orderId VARCHAR KEY, customerId VARCHAR, total DOUBLE, timestamp BIGINT) WITH (KAFKA_TOPIC='orders.placed', VALUE_FORMAT='AVRO', TIMESTAMP='timestamp');
CREATE TABLE hourly_revenue AS SELECT customerId, WINDOWSTART AS window_start, SUM(total) AS revenue, COUNT(*) AS order_count FROM orders_stream WINDOW TUMBLING (SIZE 1 HOUR) GROUP BY customerId EMIT CHANGES;
SELECT * FROM hourly_revenue WHERE customerId = 'cust-123';

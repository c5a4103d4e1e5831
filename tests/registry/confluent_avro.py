#!/usr/bin/env python3
"""Confluent's own Avro serializer and deserializer (confluent-kafka's AvroSerializer and
AvroDeserializer, through its Schema Registry client), for tests/avro_confluent.rs to check
wire compatibility against.

    confluent_avro.py serialize URL TOPIC SCHEMA_FILE   JSON records on stdin, one a line;
                                                        prints each serialized value as hex
    confluent_avro.py deserialize URL TOPIC             hex values on stdin, one a line;
                                                        prints each record as JSON

Values are serialized for TOPIC's value subject (TopicNameStrategy), registering the schema
when needed, as a Kafka producer with Confluent's serializer does. `timestamp-millis` fields
are written from and printed as epoch milliseconds.
"""

import datetime
import json
import sys

from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext


def to_json(value):
    """Timestamps as epoch milliseconds, the rest as it is."""
    if isinstance(value, datetime.datetime):
        return int(value.timestamp() * 1000)
    if isinstance(value, dict):
        return {k: to_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_json(v) for v in value]
    return value


def main(argv):
    if len(argv) < 4 or argv[1] not in ("serialize", "deserialize"):
        print(__doc__, file=sys.stderr)
        return 2
    command, url, topic = argv[1], argv[2], argv[3]
    # Without a timeout, a request the registry never answers waits for its idle timeout
    # (30 minutes); with one, the client's retries (3 by default) ask again.
    client = SchemaRegistryClient({"url": url, "timeout": 20})
    context = SerializationContext(topic, MessageField.VALUE)
    if command == "serialize":
        with open(argv[4], encoding="utf-8") as f:
            schema = f.read()
        serializer = AvroSerializer(client, schema, conf={"auto.register.schemas": True})
        for line in sys.stdin:
            if line.strip():
                print(serializer(json.loads(line), context).hex())
    else:
        deserializer = AvroDeserializer(client)
        for line in sys.stdin:
            if line.strip():
                record = deserializer(bytes.fromhex(line.strip()), context)
                print(json.dumps(to_json(record), sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

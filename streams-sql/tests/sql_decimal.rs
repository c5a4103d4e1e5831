//! `DECIMAL` is exact, as ksqlDB's `BigDecimal`s: arithmetic at the scales ksqlDB gives its
//! results, null where ksqlDB's `RoundingMode.UNNECESSARY` fails, `CAST` rounding half up,
//! sums without binary rounding, and every digit of the scale in JSON.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use streams_dsl::prelude::*;
use streams_sql::Error;
use support::driver;

type S = Option<String>;

fn topic_pair(
    d: &TopologyTestDriver,
    from: &str,
    to: &str,
) -> (TestInputTopic<S, S>, TestOutputTopic<S, S>) {
    let serde = || Serdes::option(Serdes::string());
    (
        d.create_input_topic(from, serde(), serde()),
        d.create_output_topic(to, serde(), serde()),
    )
}

const ITEMS: &str = "CREATE STREAM items (id VARCHAR KEY, price DECIMAL(10, 2), qty INT, rate DOUBLE) WITH (KAFKA_TOPIC='items', VALUE_FORMAT='JSON');";

fn values(d: &TopologyTestDriver, rows: &[(&str, &str)]) -> Vec<String> {
    let (i, o) = topic_pair(d, "items", "out");
    for (k, v) in rows {
        i.pipe_input(Some((*k).to_owned()), Some((*v).to_owned()))
            .unwrap();
    }
    o.read_values_to_list()
        .unwrap()
        .into_iter()
        .map(Option::unwrap)
        .collect()
}

#[test]
fn arithmetic_is_exact_at_ksqldbs_result_scales() {
    let d = driver(&format!(
        "{ITEMS}
         CREATE STREAM out WITH (KAFKA_TOPIC='out') AS
           SELECT id, price * qty AS amount, price / 4 AS quarter, price / 3 AS third,
                  price % 7 AS rest, price + 0.20 AS plus,
                  -price AS neg, CAST(price AS DECIMAL(4, 1)) AS rounded,
                  CAST(rate AS DECIMAL(5, 2)) AS rate2, price * rate AS scaled
           FROM items WHERE price > 0 EMIT CHANGES;"
    ));
    let got = values(
        &d,
        &[
            ("a", r#"{"price": 19.99, "qty": 3, "rate": 2.675}"#),
            ("b", r#"{"price": "0.10", "qty": 1, "rate": 0.5}"#),
            ("c", r#"{"price": -5, "qty": 1, "rate": 1}"#),
        ],
    );
    assert_eq!(
        got,
        [
            // DECIMAL(10, 2) * DECIMAL(10, 0) is DECIMAL(21, 2); / DECIMAL(10, 0) is
            // DECIMAL(21, 13); 19.99 / 3 has no exact value at scale 13, so it is null.
            r#"{"AMOUNT":59.97,"QUARTER":4.9975000000000,"THIRD":null,"REST":5.99,"PLUS":20.19,"NEG":-19.99,"ROUNDED":20.0,"RATE2":2.68,"SCALED":53.47324999999999}"#,
            // 0.10 + 0.20 is 0.30, where doubles give 0.30000000000000004 (the literal 0.20
            // is a DECIMAL(3, 2)).
            r#"{"AMOUNT":0.10,"QUARTER":0.0250000000000,"THIRD":null,"REST":0.10,"PLUS":0.30,"NEG":-0.10,"ROUNDED":0.1,"RATE2":0.50,"SCALED":0.05}"#,
        ]
    );
}

#[test]
fn sums_are_exact_and_keep_the_scale() {
    let d = driver(&format!(
        "{ITEMS}
         CREATE TABLE out WITH (KAFKA_TOPIC='out') AS
           SELECT id, SUM(price) AS total, MAX(price) AS top, COUNT(*) AS n FROM items GROUP BY id EMIT CHANGES;"
    ));
    let rows: Vec<(&str, &str)> = (0..10)
        .map(|_| ("k", r#"{"price": 0.1, "qty": 1, "rate": 0}"#))
        .chain([("k", r#"{"price": "12.30", "qty": 1, "rate": 0}"#)])
        .collect();
    let got = values(&d, &rows);
    assert_eq!(got[0], r#"{"TOTAL":0.10,"TOP":0.10,"N":1}"#);
    assert_eq!(got[2], r#"{"TOTAL":0.30,"TOP":0.10,"N":3}"#);
    assert_eq!(got[9], r#"{"TOTAL":1.00,"TOP":0.10,"N":10}"#);
    assert_eq!(got[10], r#"{"TOTAL":13.30,"TOP":12.30,"N":11}"#);
}

#[test]
fn decimal_types_are_checked_before_anything_runs() {
    for (sql, expected) in [
        (
            "CREATE STREAM s (k VARCHAR KEY, v DECIMAL(10, 2)) WITH (KAFKA_TOPIC='s', VALUE_FORMAT='KAFKA');",
            "VALUE_FORMAT 'KAFKA' does not support type DECIMAL(10, 2) (column V)",
        ),
        (
            "CREATE STREAM s (k VARCHAR KEY, v DECIMAL(39, 2)) WITH (KAFKA_TOPIC='s', VALUE_FORMAT='JSON');",
            "DECIMAL(precision, scale) needs 1 <= precision <= 38",
        ),
        (
            "CREATE STREAM s (k VARCHAR KEY, v DECIMAL(2, 3)) WITH (KAFKA_TOPIC='s', VALUE_FORMAT='JSON');",
            "0 <= scale <= precision",
        ),
        (
            &format!(
                "{ITEMS} CREATE STREAM o WITH (KAFKA_TOPIC='o', VALUE_FORMAT='KAFKA') AS SELECT id, price FROM items EMIT CHANGES;"
            ),
            "VALUE_FORMAT 'KAFKA' does not support type DECIMAL(10, 2) (column PRICE)",
        ),
    ] {
        let e: Error = streams_sql::topology(&format!(
            "{sql}\nCREATE STREAM z AS SELECT * FROM s EMIT CHANGES;"
        ))
        .err()
        .unwrap_or_else(|| panic!("compiled: {sql}"));
        assert!(e.to_string().contains(expected), "{sql}\n{e}");
    }
}

#[test]
fn literals_with_a_point_are_decimals_and_with_an_exponent_doubles() {
    let d = driver(&format!(
        "{ITEMS}
         CREATE STREAM out WITH (KAFKA_TOPIC='out') AS
           SELECT id, qty * 1.5 AS dec, qty * 1.5E0 AS dbl, 0.05 + 0.1 AS small, rate * 0.1 AS mixed
           FROM items EMIT CHANGES;"
    ));
    let got = values(&d, &[("a", r#"{"price": 1, "qty": 3, "rate": 3}"#)]);
    // INT * DECIMAL(2, 1) is DECIMAL(13, 1); DECIMAL(3, 2) + DECIMAL(2, 1) is DECIMAL(4, 2);
    // DOUBLE * DECIMAL is a DOUBLE, with a double's rounding.
    assert_eq!(
        got,
        [r#"{"DEC":4.5,"DBL":4.5,"SMALL":0.15,"MIXED":0.30000000000000004}"#]
    );
    let described = streams_sql::compile(&format!(
        "{ITEMS} CREATE STREAM out WITH (KAFKA_TOPIC='out') AS SELECT id, qty * 1.5 AS dec, 0.05 + 0.1 AS small FROM items EMIT CHANGES;"
    ))
    .unwrap()
    .0;
    let out = &described.sources["OUT"];
    assert_eq!(
        out.value_columns,
        [
            (
                "DEC".to_owned(),
                streams_sql::types::SqlType::Decimal(13, 1)
            ),
            (
                "SMALL".to_owned(),
                streams_sql::types::SqlType::Decimal(4, 2)
            ),
        ]
    );
}

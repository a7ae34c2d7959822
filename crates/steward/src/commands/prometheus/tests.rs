//! Unit tests of decoding the Prometheus API's answers.

use super::*;

#[test]
fn query_answers_decode_into_their_result_types() {
    let vector: Answer<QueryData> = decode(
        br#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"__name__":"up","job":"steward"},"value":[1700000000.5,"1"]}]}}"#,
    )
    .unwrap();
    let Answer::Success {
        data: QueryData::Vector(samples),
        warnings,
    } = vector
    else {
        panic!("a vector");
    };
    assert!(warnings.is_empty());
    assert_eq!(samples[0].metric["job"], "steward");
    assert_eq!(samples[0].value.time(), 1_700_000_000.5);
    assert_eq!(samples[0].value.value(), 1.0);

    let matrix: Answer<QueryData> = decode(
        br#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1,"+Inf"],[2,"NaN"]]}]},"warnings":["w"]}"#,
    )
    .unwrap();
    let Answer::Success {
        data: QueryData::Matrix(series),
        warnings,
    } = matrix
    else {
        panic!("a matrix");
    };
    assert_eq!(warnings, ["w"]);
    assert_eq!(series[0].values[0].value(), f64::INFINITY);
    assert!(series[0].values[1].value().is_nan());

    let scalar: Answer<QueryData> =
        decode(br#"{"status":"success","data":{"resultType":"scalar","result":[1,"2.5"]}}"#)
            .unwrap();
    assert!(
        matches!(scalar, Answer::Success { data: QueryData::Scalar(ref p), .. } if p.value() == 2.5)
    );
}

#[test]
fn data_is_printed_back_as_it_came() {
    let text =
        r#"{"resultType":"vector","result":[{"metric":{"job":"a"},"value":[1700000000,"1"]}]}"#;
    let data: QueryData = serde_json::from_str(text).unwrap();
    assert_eq!(serde_json::to_string(&data).unwrap(), text);
}

#[test]
fn errors_are_usage_errors_only_for_bad_data() {
    let answer: Answer<QueryData> = decode(
        br#"{"status":"error","errorType":"bad_data","error":"invalid parameter \"query\": parse error"}"#,
    )
    .unwrap();
    let Answer::Error { error_type, error } = answer else {
        panic!("an error");
    };
    let err = api_error(error_type, error);
    assert!(err.downcast_ref::<UsageError>().is_some());
    assert_eq!(
        err.to_string(),
        "bad_data: invalid parameter \"query\": parse error"
    );
    let err = api_error("execution".into(), "too many samples".into());
    assert!(err.downcast_ref::<PrometheusError>().is_some());
    assert_eq!(err.to_string(), "execution: too many samples");
}

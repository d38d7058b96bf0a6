from tta_codegen.context.tokens import estimate_tokens, query_terms, split_identifier, tokenize


def test_snake_and_camel_case_are_split_and_joined() -> None:
    assert split_identifier("parse_config_file") == ("parse", "config", "file", "parseconfigfile")
    assert split_identifier("parseConfigFile") == ("parse", "config", "file", "parseconfigfile")
    assert split_identifier("HTTPResponse") == ("http", "response", "httpresponse")


def test_acronyms_and_digits() -> None:
    assert "http" in split_identifier("parseHTTPHeaders")
    assert "headers" in split_identifier("parseHTTPHeaders")
    assert "v2" not in split_identifier("api_v2")  # digits split off the letters
    assert "api" in split_identifier("api_v2")


def test_stopwords_and_single_letters_are_dropped() -> None:
    assert tokenize("def f(self, x): return self.value") == ["value"]


def test_query_terms_are_distinct_in_order_and_capped() -> None:
    assert query_terms("retry retry backoff Retry") == ["retry", "backoff"]
    many = " ".join(f"word{i}x" for i in range(100))
    assert len(query_terms(many, limit=10)) == 10


def test_estimate_tokens() -> None:
    assert estimate_tokens("") == 0
    assert estimate_tokens("abcd") == 1
    assert estimate_tokens("abcde") == 2
    assert estimate_tokens("a" * 30, chars_per_token=3) == 10


def test_token_counts_are_tokenize_counted_in_first_appearance_order() -> None:
    from collections import Counter

    from tta_codegen.context.tokens import token_counts

    text = "parseConfigFile(config_path)\nconfig = load_config(config_path, retries=3)\nself.x"
    counts = token_counts(text)
    expected = Counter(tokenize(text))
    assert counts == dict(expected)
    assert list(counts) == list(expected)  # ties in most_common keep this order
    assert counts["config"] == 5 and "self" not in counts

"""The API's errors (shop/errors.py) and rebuilding them from a remote answer."""
import pytest

from shop import errors
from shop.errors import from_response

TABLE = [
    (errors.InvalidRequest, 400, "invalid_request"),
    (errors.Unauthorized, 401, "unauthorized"),
    (errors.PaymentDeclined, 402, "payment_declined"),
    (errors.NotFound, 404, "not_found"),
    (errors.MethodNotAllowed, 405, "method_not_allowed"),
    (errors.Conflict, 409, "conflict"),
    (errors.EmailTaken, 409, "email_taken"),
    (errors.OutOfStock, 409, "out_of_stock"),
    (errors.CartEmpty, 409, "cart_empty"),
    (errors.PayloadTooLarge, 413, "payload_too_large"),
    (errors.InternalError, 500, "internal_error"),
]


@pytest.mark.parametrize("cls, status, code", TABLE)
def test_status_code_and_shape(cls, status, code):
    err = cls("Do this instead.")
    assert (err.status, err.code) == (status, code)
    assert err.to_json() == {"error": {"code": code, "message": "Do this instead."}}
    assert str(err) == "Do this instead."


def test_409_family_are_conflicts():
    for cls in (errors.EmailTaken, errors.OutOfStock, errors.CartEmpty):
        assert issubclass(cls, errors.Conflict)


def test_service_unavailable_names_the_service():
    err = errors.ServiceUnavailable("billing")
    assert (err.status, err.code, err.service) == (503, "service_unavailable", "billing")
    assert "billing" in err.message
    assert "did not answer in time" in errors.ServiceUnavailable("catalog", "did not answer in time").message


def test_code_override():
    err = errors.ApiError("x", code="custom")
    assert err.code == "custom" and errors.ApiError.code == "internal_error"


@pytest.mark.parametrize("cls, status, code", TABLE)
def test_from_response_rebuilds_the_right_class(cls, status, code):
    err = from_response(status, {"error": {"code": code, "message": "Only 2 of 'Mug' left."}})
    assert type(err) is cls
    assert (err.status, err.code, err.message) == (status, code, "Only 2 of 'Mug' left.")


def test_from_response_same_code_different_status_is_not_confused():
    err = from_response(400, {"error": {"code": "not_found", "message": "m"}})
    assert not isinstance(err, errors.NotFound)
    assert (err.status, err.code) == (400, "not_found")


@pytest.mark.parametrize("status, code", [(418, "teapot"), (409, "something_new"), (429, "rate_limited"),
                                          (503, "service_unavailable")])
def test_from_response_unknown_codes_keep_status_and_code(status, code):
    err = from_response(status, {"error": {"code": code, "message": "m"}})
    assert isinstance(err, errors.ApiError)
    assert (err.status, err.code, err.message) == (status, code, "m")
    assert err.to_json() == {"error": {"code": code, "message": "m"}}
    # a new remote class must not change the shared base class
    assert (errors.ApiError.status, errors.ApiError.code) == (500, "internal_error")


@pytest.mark.parametrize("body", [None, {}, {"error": None}, {"error": {}}])
def test_from_response_without_an_error_body(body):
    err = from_response(404, body)
    assert isinstance(err, errors.ApiError) and err.status == 404

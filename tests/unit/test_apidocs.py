"""The API reference page's model of an OpenAPI document (pure)."""

from __future__ import annotations

from portside.ui.apidocs import sections


def test_sections_group_operations_by_tag_with_their_parameters() -> None:
    """Pure: the page's model of a hand-written OpenAPI fragment."""
    document = {
        "paths": {
            "/api/v1/tags/{tag_id}": {
                "get": {
                    "tags": ["tags"],
                    "summary": "One tag",
                    "operationId": "get_tag",
                    "parameters": [
                        {
                            "name": "tag_id",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "integer"},
                        }
                    ],
                    "responses": {
                        "200": {"description": "OK"},
                        "404": {"description": "Not found"},
                    },
                },
                "delete": {
                    "tags": ["tags"],
                    "requestBody": {
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/X"}}
                        }
                    },
                    "responses": {},
                },
            }
        }
    }
    (section,) = sections(document)
    assert section.name == "tags"
    get, delete = section.operations
    assert (get.method, get.path, get.summary) == ("GET", "/api/v1/tags/{tag_id}", "One tag")
    assert get.parameters[0].type == "integer" and get.parameters[0].required
    assert get.responses == (("200", "OK"), ("404", "Not found"))
    assert delete.body == "X"

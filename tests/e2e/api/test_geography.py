"""Reports through the real API get the district and grid cell the deployment's boundaries
give their point (read back from ClickHouse, not through the API); a point outside every
district is refused with an Open311 error and nothing is produced."""

from __future__ import annotations

import pytest

from tests.support.api_site import Site, poll
from tests.support.open311_spec import checked

pytestmark = pytest.mark.integration
V2 = "/open311/v2"


def test_api_reports_get_their_district_and_grid_and_out_of_area_ones_are_refused(site: Site) -> None:
    intake = site.key("intake")
    form = {"api_key": intake, "service_code": "STREETLIGHT", "attribute[LIGHTS_OUT]": "2"}
    with site.client() as http:
        # given reports in the demo city and in the test district of the site's boundaries file
        posted = {
            (lat, lon): checked(
                http.post(f"{V2}/requests.json", data={**form, "lat": lat, "long": lon}), "created", "json"
            )[0]["service_request_id"]
            for lat, lon in (("31.2815", "121.4312"), ("39.3", "-76.6"))
        }

        # when a report's point is in no district (the river between the city's two rows)
        before = site.topic_ends()
        for fmt in ("json", "xml"):
            refused = http.post(f"{V2}/requests.{fmt}", data={**form, "lat": "31.25", "long": "121.45"})
            # then it is refused with an Open311 error naming the point and the service area
            assert refused.status_code == 400
            (error,) = checked(refused, "errors", fmt)
            assert error["code"] == 400
            assert "lat 31.25, long 121.45 is outside the service area" in error["description"]
        assert site.topic_ends() == before, "nothing produced for a refused report"

    # and the accepted ones are projected with the district and cell their point is in
    ids = tuple(posted.values())
    rows = poll(
        lambda: site.query(
            "SELECT case_id, district, grid_id FROM {db}.case_lifecycle FINAL WHERE case_id IN %(ids)s",
            {"ids": ids},
        ),
        lambda found: len(found) == 2,
        "both reports projected",
    )
    placed = {case_id: (district, grid) for case_id, district, grid in rows}
    assert placed[posted[("31.2815", "121.4312")]] == ("D01", "D01-0203")
    assert placed[posted[("39.3", "-76.6")]] == ("BAL", "BAL-11")

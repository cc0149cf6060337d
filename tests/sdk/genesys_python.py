"""The official Genesys Cloud Python SDK against `herdsim serve`, configured as its documentation
says: `configuration.host` set to the server's address. Run by tests/official_sdks.rs."""
import sys
import time

import PureCloudPlatformClientV2 as platform
from PureCloudPlatformClientV2.rest import ApiException

port = sys.argv[1]
platform.configuration.host = "http://127.0.0.1:%s" % port
client = platform.api_client.ApiClient().get_client_credentials_token("herd-app", "herd-secret")
users = platform.UsersApi(client)

listing = users.get_users(page_size=25)
assert listing.total == 100 and len(listing.entities) == 25, listing.total
first = users.get_user(listing.entities[0].id)
def model(kind, **fields):
    """A model of the SDK, filled in as its docs show (attributes, not constructor arguments)."""
    value = kind()
    for name, field in fields.items():
        setattr(value, name, field)
    return value


updated = users.patch_user(first.id, model(platform.UpdateUser, version=first.version, name="Renamed"))
assert updated.version == first.version + 1, updated.version
try:
    users.get_user("6a1f0000-0000-4000-8000-00000000dead")
    sys.exit("a missing user was found")
except ApiException as error:
    assert error.status == 404, error.status

created = users.post_users(model(platform.CreateUser, name="SDK Person", email="sdk.person@herd.example"))
assert created.email == "sdk.person@herd.example", created.email
try:
    users.post_users(model(platform.CreateUser, name="Again", email="sdk.person@herd.example"))
    sys.exit("a duplicate email was created")
except ApiException as error:
    assert error.status == 409, error.status

cursor_page = users.get_users_query(page_size=60)
assert len(cursor_page.entities) == 60 and cursor_page.cursor, cursor_page.cursor
rest = users.get_users_query(page_size=60, cursor=cursor_page.cursor)
assert len(rest.entities) == 41 and not rest.cursor, len(rest.entities)

analytics = platform.AnalyticsApi(client)
job = analytics.post_analytics_conversations_details_jobs(
    model(platform.AsyncConversationQuery, interval="2025-12-31T00:00:00Z/2026-01-01T00:00:00Z")
)
for _ in range(50):
    state = analytics.get_analytics_conversations_details_job(job.job_id).state
    if state == "FULFILLED":
        break
    time.sleep(0.2)
else:
    sys.exit("the job never finished: %s" % state)
conversations, cursor = 0, None
while True:
    page = analytics.get_analytics_conversations_details_job_results(job.job_id, cursor=cursor)
    conversations += len(page.conversations or [])
    cursor = page.cursor
    if not cursor:
        break
assert conversations == 250, conversations
print("python sdk: token, list, get, patch, 404, create, 409, cursor paging, analytics job ok")

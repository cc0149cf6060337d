// The official Genesys Cloud JavaScript SDK against `herdsim serve`, configured as its
// documentation says: `setGateway({host, protocol, port})`. Run by tests/official_sdks.rs.
const platform = require("purecloud-platform-client-v2");

async function main() {
  const port = Number(process.argv[2]);
  const client = platform.ApiClient.instance;
  client.setGateway({ host: "127.0.0.1", protocol: "http", port });
  await client.loginClientCredentialsGrant("herd-app", "herd-secret");
  const users = new platform.UsersApi();
  const listing = await users.getUsers({ pageSize: 25 });
  if (listing.total !== 100 || listing.entities.length !== 25) throw new Error(`listing ${listing.total}`);
  const first = await users.getUser(listing.entities[0].id);
  const updated = await users.patchUser(first.id, { version: first.version, name: "Renamed" });
  if (updated.version !== first.version + 1) throw new Error(`version ${updated.version}`);
  try {
    await users.getUser("6a1f0000-0000-4000-8000-00000000dead");
    throw new Error("a missing user was found");
  } catch (error) {
    if (error.status !== 404) throw error;
  }
  const created = await users.postUsers({ name: "JS Person", email: "js.person@herd.example" });
  if (created.email !== "js.person@herd.example") throw new Error(`created ${created.email}`);
  try {
    await users.postUsers({ name: "Again", email: "js.person@herd.example" });
    throw new Error("a duplicate email was created");
  } catch (error) {
    if (error.status !== 409) throw error;
  }
  const page = await users.getUsersQuery({ pageSize: 60 });
  const rest = await users.getUsersQuery({ pageSize: 60, cursor: page.cursor });
  if (page.entities.length !== 60 || rest.entities.length !== 41 || rest.cursor) throw new Error("cursor paging");
  console.log("javascript sdk: token, list, get, patch, 404, create, 409, cursor paging ok");
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});

// The WHIP client the page's `?whip=eyevinn` mode loads: Eyevinn's WHIP web client,
// bundled with its dependencies into one ES module.
export { WHIPClient } from "@eyevinn/whip-web-client";

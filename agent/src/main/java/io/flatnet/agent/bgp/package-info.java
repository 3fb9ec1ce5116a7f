/**
 * Routes from FRR: {@link io.flatnet.agent.bgp.FpmServer} takes zebra's FPM connection ({@code
 * dplane_fpm_nl}), {@link io.flatnet.agent.bgp.FpmDecoder} reads its netlink messages, {@link
 * io.flatnet.agent.bgp.BgpRoutes} holds what zebra selected, and {@link
 * io.flatnet.agent.bgp.BgpRouteSpecs} turns it into routes of origin "bgp". See docs/routing.md.
 */
package io.flatnet.agent.bgp;

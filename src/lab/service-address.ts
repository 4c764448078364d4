/**
 * The address a network's OVN DHCP server and DNS resolver answer as (docs/dhcp-dns.md). A network linked by a
 * router uses the router port's address (the router answers ARP for it, so nodes reach the DNS resolver without
 * help). A network without one gets a labctl-chosen service address: the subnet's last host address, reserved like
 * a router address; nodes get a permanent neighbour entry for it, because nothing in OVN answers ARP for it.
 */
import { broadcast, type Cidr, intToIp } from './ipv4.js';

export function serviceAddressOf(subnet: Cidr): string {
  return intToIp(broadcast(subnet) - 1);
}

export { ship, Shipper, ID_HEADER, type ShipOptions, type ShipStats } from './ship.js';
export { mirror, Mirror, type MirrorOptions, type MirrorStats } from './mirror.js';

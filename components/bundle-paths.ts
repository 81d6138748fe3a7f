// Paths on the node shared by the bundle, the service settings and the deploy steps.
export const STATE_DIR = "/var/lib/borg";
export const SECRETS_DIR = `${STATE_DIR}/secrets`;
export const HOST_KEY_SECRET = "ssh_host_ed25519_key";
/** The OSD disk is the VM's second virtio disk (virtio1). */
export const OSD_DEVICE = "/dev/vdb";

/** [registry[:port]/]name[:tag][@sha256:digest]; the registry part is what may carry a port */
const IMAGE_RE =
  /^([a-z0-9.-]+(:\d{1,5})?\/)?[a-z0-9][a-z0-9._/-]*(:[A-Za-z0-9_.-]+)?(@sha256:[a-f0-9]{64})?$/;

export const isImageRef = (image: string): boolean => IMAGE_RE.test(image);

export const IMAGE_HINT = 'e.g. labctl/node or debian:bookworm';

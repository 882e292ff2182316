// Types for the text files (units, desktop entries, metainfo) embedded into the binary with `with { type: "text" }`.
declare module "*.service" {
  const text: string;
  export default text;
}
declare module "*.desktop" {
  const text: string;
  export default text;
}
declare module "*.metainfo.xml" {
  const text: string;
  export default text;
}

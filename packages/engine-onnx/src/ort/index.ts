export * from "./session.js";

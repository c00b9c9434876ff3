export { registriesRouter, registerRegistriesOpenApi, registriesServiceFrom } from './registries.router';
export {
  createRegistriesService,
  registryKey,
  PASSWORD_MASK,
  type RegistriesService,
  type RegistriesDeps,
} from './registries.service';
export { RegistryModel, type RegistryDoc } from './registry.model';
export type { RegistryView, CreateRegistry, UpdateRegistry } from './registries.schemas';

import { ConfigurableModuleBuilder } from '@nestjs/common';
import { PgflowModuleOptions } from './interfaces/module-options.interface';

export const {
  ConfigurableModuleClass: PgflowConfigurableModule,
  MODULE_OPTIONS_TOKEN,
  OPTIONS_TYPE,
  ASYNC_OPTIONS_TYPE,
} = new ConfigurableModuleBuilder<PgflowModuleOptions>()
  .setClassMethodName('forRoot')
  .setExtras({ isGlobal: true }, (definition, extras) => ({ ...definition, global: extras.isGlobal }))
  .build();
